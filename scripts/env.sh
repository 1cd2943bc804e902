# Sourced by the other scripts: the environment Orthanc needs to run the plugin.
# Orthanc embeds Debian's Python 3.11, which finds the plugin's libraries through PYTHONPATH.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$repo/.venv/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}"
# Without it, every C-FIND answer waits about 90 ms for Nagle's algorithm.
export TCP_NODELAY=1
