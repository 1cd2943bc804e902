#!/bin/sh
# Stand-in for the orthancteam/orthanc image's /docker-entrypoint.sh, for tests only: build
# Orthanc's configuration from /etc/orthanc and the ORTHANC__ variables, then become Orthanc
# (exec: Orthanc is the container's main process and gets the SIGTERM of "podman stop").
set -e
if [ $# -ne 1 ]; then
	echo "FATAL ERROR: docker-entrypoint.sh expects a single parameter: the path to the configuration file" >&2
	exit 2
fi
python3 /startup/generate_configuration.py
verbosity=""
if [ "${TRACE_ENABLED:-}" = true ]; then
	verbosity=--trace
elif [ "${VERBOSE_ENABLED:-}" = true ]; then
	verbosity=--verbose
fi
echo "Startup command: exec Orthanc $verbosity $1" >&2
# shellcheck disable=SC2086 # an empty $verbosity is no argument
exec Orthanc $verbosity "$1"
