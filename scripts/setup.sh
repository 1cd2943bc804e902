#!/usr/bin/env bash
# Installs what the plugin and its tests need on Debian 12 or 13, only what is missing:
# Orthanc with its Python plugin, dcmtk, unixODBC with the SQLite/PostgreSQL/FreeTDS/MariaDB drivers,
# PostgreSQL (for the tests) and a venv built from Debian's /usr/bin/python3 (the one Orthanc embeds).
# Usage: scripts/setup.sh [--dev]   (--dev adds the test tools to the venv)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(orthanc orthanc-python dcmtk unixodbc libsqliteodbc odbc-postgresql tdsodbc postgresql python3-venv)
# Headless Chromium and its WebDriver, for the browser test of the Orthanc Explorer page (tests only).
if [ "${1:-}" = "--dev" ]; then packages+=(chromium chromium-driver); fi
# MariaDB's ODBC driver (a dialect of the plugin); for the tests a MariaDB server they start on a
# port of their own (never the system service), and docker-compose to validate docker/.
packages+=(odbc-mariadb)
if [ "${1:-}" = "--dev" ]; then packages+=(mariadb-server docker-compose); fi
# The compatibility matrix runs Debian 13's and unstable's Orthanc from roots made with debootstrap,
# and the Docker image is built and run with podman (tests only).
if [ "${1:-}" = "--dev" ]; then packages+=(debootstrap podman); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    # A Debian installed with a root password has no sudo: say what to do rather than "command not found".
    if ! command -v sudo >/dev/null; then
      # Only the packages as root: the venv and the checkout stay the user's.
      echo "setup: missing ${missing[*]}: install them as root (su -c 'apt-get install ${missing[*]}'), or install sudo" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  # Through env: sudo drops the caller's variables, so DEBIAN_FRONTEND=... before sudo would be lost.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts its own Orthanc service on ports 4242/8042 right after installing it; a fresh
  # install is ours, so stop it to leave the ports to the plugin's Orthanc.
  if [[ " ${missing[*]} " == *" orthanc "* ]] && [ -d /run/systemd/system ]; then
    echo "setup: stopping the orthanc service that apt just started (it would hold ports 4242/8042)"
    "${sudo[@]}" systemctl disable --now orthanc >/dev/null 2>&1 || true
  fi
fi

requirements=requirements.txt
[ "${1:-}" = "--dev" ] && requirements=requirements-dev.txt
stamp=".venv/.installed-$(sha256sum requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-$(basename "$requirements")"
# A venv made by another Python (Debian 12 upgraded to 13) has its packages under the old
# version's folder, which the new Python never reads: build it again.
python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
made_by="$(sed -n 's/^version *= *\([0-9]*\.[0-9]*\).*/\1/p' .venv/pyvenv.cfg 2>/dev/null || true)"
if [ -x .venv/bin/python ] && [ "$made_by" != "$(python_version /usr/bin/python3)" ]; then
  echo "setup: .venv was made by Python ${made_by:-unknown}, /usr/bin/python3 is $(python_version /usr/bin/python3): making it again"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ] || [ ! -e "$stamp" ]; then
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi

# The checkout's plugin/ on the venv's own path (as an editable install would put it), so that
# `.venv/bin/python -m vetmwl.tools.importer` and `-m bench.run` find the package from anywhere.
# Orthanc is unaffected: it reads the venv through PYTHONPATH, where .pth files do not count.
site="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
[ "$(cat "$site/vetmwl-checkout.pth" 2>/dev/null)" = "$PWD/plugin" ] || echo "$PWD/plugin" > "$site/vetmwl-checkout.pth"
