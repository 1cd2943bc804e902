# Sourced by the other scripts: the environment Orthanc needs to run the plugin.
# Orthanc embeds Debian's /usr/bin/python3, which finds the plugin's libraries through PYTHONPATH:
# the venv's site-packages, asked of the venv itself (whatever Python version the Debian has).
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$repo/.venv/bin/python" ]; then
  site="$("$repo/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
# Without it, every C-FIND answer waits about 90 ms for Nagle's algorithm.
export TCP_NODELAY=1
