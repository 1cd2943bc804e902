#!/usr/bin/env bash
# Quick start: installs what is missing, builds the demo database (a veterinary schedule for today
# and the next days) and runs Orthanc with the plugin in the foreground (DICOM 4242, HTTP 8042).
# Stop it with Ctrl-C. The AE title, ports and database are in orthanc.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

mkdir -p var
.venv/bin/python -m vetmwl.tools.demo > var/demo-items.json
rm -f var/demo.sqlite
.venv/bin/python -m vetmwl.tools.importer --dialect sqlite --connection "Driver=SQLite3;Database=var/demo.sqlite" \
  --create-schema var/demo-items.json

for port in 4242 8042 4243; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is already in use (another Orthanc? try: systemctl stop orthanc)" >&2
    exit 1
  fi
done
echo "demo: starting Orthanc; try the findscu example from README.md in another terminal"
# By its full path: a user's PATH on Debian has no /usr/sbin, where the package puts it.
exec /usr/sbin/Orthanc orthanc.json
