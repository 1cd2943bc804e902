#!/usr/bin/env bash
# Installs the SQL worklist plugin into Debian's packaged Orthanc, run as the orthanc.service
# system service, so that it starts on boot with its venv (see docs/debian-service.md):
#
#   /opt/vetmwl/                    the plugin, its SQL templates and a venv with the pinned libraries
#   /etc/orthanc/python.json        replaced (Debian's original is kept as python.json.orig-vetmwl)
#   /etc/orthanc/sqlworklist.json   the SqlWorklist settings, created once, never overwritten
#   /etc/orthanc/orthanc.json       "DefaultEncoding" set to "Utf8" in place, and
#                                   "DicomAlwaysAllowStore" and "DicomAlwaysAllowFindWorklist" to
#                                   false (only the modalities listed in "DicomModalities" may store
#                                   studies, which complete steps, and query the worklist), or both
#                                   to true with --allow-all-modalities
#   /etc/systemd/system/orthanc.service.d/vetmwl.conf   PYTHONPATH and TCP_NODELAY for the service
#
# Usage: sudo deploy/debian/install.sh [--allow-all-modalities] [--no-venv] [--no-restart]
#          [--prefix DIR] [--etc DIR] [--unit-dir DIR]
# (--prefix, --etc and --unit-dir default to the paths above; the tests install into a scratch folder.)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
prefix=/opt/vetmwl
etc=/etc/orthanc
unit_dir=/etc/systemd/system
allow_all=0
make_venv=1
restart=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --etc) etc="$2"; shift 2 ;;
    --unit-dir) unit_dir="$2"; shift 2 ;;
    --allow-all-modalities) allow_all=1; shift ;;
    --no-venv) make_venv=0; shift ;;
    --no-restart) restart=0; shift ;;
    *) echo "install: unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
[ -f "$etc/orthanc.json" ] || { echo "install: no $etc/orthanc.json: install Debian's orthanc and orthanc-python first" >&2; exit 1; }

# 1. The plugin and the SQL templates, readable by the orthanc user.
mkdir -p "$prefix"
rm -rf "$prefix/plugin" "$prefix/sql"
cp -r "$repo/plugin" "$repo/sql" "$repo/requirements.txt" "$prefix/"
find "$prefix/plugin" -name __pycache__ -prune -exec rm -rf {} +
chmod -R a+rX "$prefix"

# 2. The venv, from the Python that Orthanc's plugin embeds.
if [ "$make_venv" = 1 ]; then
  /usr/bin/python3 -m venv "$prefix/.venv"
  "$prefix/.venv/bin/pip" install -q --disable-pip-version-check -r "$prefix/requirements.txt"
  chmod -R a+rX "$prefix/.venv"
fi
# Its site-packages, asked of the venv itself: the path holds the Python version, which differs
# between Debian releases (and with --no-venv, of the Python that would build it).
if [ -x "$prefix/.venv/bin/python" ]; then
  site="$("$prefix/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
else
  site="$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_path("purelib", "venv", vars={"base": "'"$prefix/.venv"'"}))')"
fi

# 3. Orthanc's configuration. Orthanc reads every *.json in $etc and refuses a setting defined in
#    two of them, so python.json is replaced and orthanc.json is edited rather than overridden.
if [ ! -e "$etc/python.json.orig-vetmwl" ] && [ -e "$etc/python.json" ]; then
  mv "$etc/python.json" "$etc/python.json.orig-vetmwl"  # not *.json: Orthanc ignores it
fi
sed "s|/opt/vetmwl|$prefix|g" "$here/python.json" > "$etc/python.json"
chmod 644 "$etc/python.json"
if [ ! -e "$etc/sqlworklist.json" ]; then
  install -m 640 "$here/sqlworklist.json" "$etc/sqlworklist.json"
  if getent group orthanc >/dev/null; then chgrp orthanc "$etc/sqlworklist.json"; fi
  echo "install: edit $etc/sqlworklist.json: the connection string, dialect and view of the practice database"
fi
set_setting() {  # set_setting KEY VALUE: change a top-level setting of orthanc.json where it stands
  if ! grep -Eq "^\s*\"$1\"\s*:" "$etc/orthanc.json"; then
    echo "install: $etc/orthanc.json has no \"$1\" setting to change: set it to $2 by hand" >&2
    return 1
  fi
  sed -i -E "s/^(\s*\"$1\"\s*:\s*)[^,]*(,?)\s*$/\1$2\2/" "$etc/orthanc.json"
}
set_setting DefaultEncoding '"Utf8"'
if [ "$allow_all" = 1 ]; then allowed=true; else allowed=false; fi
set_setting DicomAlwaysAllowStore "$allowed"
set_setting DicomAlwaysAllowFindWorklist "$allowed"

# 4. The service's environment.
mkdir -p "$unit_dir/orthanc.service.d"
sed "s|@SITE_PACKAGES@|$site|g" "$here/orthanc.service.d/vetmwl.conf" \
  > "$unit_dir/orthanc.service.d/vetmwl.conf"
chmod 644 "$unit_dir/orthanc.service.d/vetmwl.conf"

# 5. Start on boot, and now, when this is the live system.
if [ "$unit_dir" = /etc/systemd/system ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable orthanc.service
  if [ "$restart" = 1 ]; then systemctl restart orthanc.service; fi
  echo "install: orthanc.service runs the plugin; see its log with: journalctl -u orthanc -e"
else
  echo "install: installed into $prefix, $etc and $unit_dir (no systemd to reload here)"
fi
if [ "$allow_all" = 0 ]; then
  echo "install: list each modality in \"DicomModalities\" of $etc/orthanc.json, with \"AllowFindWorklist\": true and \"AllowStore\": true, e.g."
  echo '  "xray" : { "AET" : "DX_ROOM1", "Host" : "192.0.2.10", "Port" : 104, "AllowFindWorklist" : true, "AllowStore" : true }'
fi
