"""Stand-in for the orthancteam/orthanc image's configuration generator, for tests only.

The real image runs /startup/generateConfiguration.py (orthanc-server/orthanc-builder,
docker/orthanc/) before Orthanc. This file does the part of it that docker/Dockerfile and
docker/docker-compose.yml rely on, with the same rules, and nothing else:

- read every /etc/orthanc/*.json (JSON with // and /* */ comments);
- turn each ``ORTHANC__SECTION__KEY`` environment variable into a setting, overriding the files:
  each ``__``-separated token becomes a CamelCase key (``SQL_WORKLIST`` is ``SqlWorklist``), and
  a value that parses as JSON is that JSON, otherwise the string;
- add the image's own defaults (its orthanc-defaults.json) where nothing set them;
- enable a plugin by linking its library from /usr/share/orthanc/plugins-available into the
  folder Orthanc loads: Python when ``PythonScript`` (or a ``Python`` section) is set or
  ``PYTHON_PLUGIN_ENABLED`` is true; the stock worklist plugin when a ``Worklists`` section is set
  or ``WORKLISTS_PLUGIN_ENABLED`` is true (``...=false`` disables either);
- refuse to start, as the image does for Orthanc 1.13, when HTTP authentication and remote
  access are on and no user is registered;
- write the result to /tmp/orthanc.json, which the entrypoint gives to Orthanc.

Not reproduced: ORTHANC_JSON, ``*_SECRET`` files and /run/secrets, the non-standard and legacy
variable names, the other plugins, ORTHANC_PASSWORD, ${VAR} substitution in files, /etc/hostid.
Standard library only: it runs with the image's python3, whatever its version.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from typing import Any

OUTPUT = "/tmp/orthanc.json"
AVAILABLE = "/usr/share/orthanc/plugins-available"
#: The image's orthanc-defaults.json (26.8.1).
DEFAULTS: dict[str, Any] = {
    "StorageDirectory": "/var/lib/orthanc/db",
    "RemoteAccessAllowed": True,
    "AuthenticationEnabled": True,
    "HttpsCACertificates": "/etc/ssl/certs/ca-certificates.crt",
    "Plugins": ["/run/orthanc/plugins", "/usr/share/orthanc/plugins"],
}
#: plugin: (its section, a root setting that enables it or None, its enabling variable, its library).
#: The real image's worklist plugin is libOrthancWorklists.so; Debian's is libModalityWorklists.so.
PLUGINS = {
    "Python": ("Python", "PythonScript", "PYTHON_PLUGIN_ENABLED", "libOrthancPython.so"),
    "Worklists": ("Worklists", None, "WORKLISTS_PLUGIN_ENABLED", "libModalityWorklists.so"),
}
_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)


def setting_path(name: str) -> list[str]:
    """``ORTHANC__SQL_WORKLIST__QUERY_TIMEOUT`` is ``["SqlWorklist", "QueryTimeout"]``."""
    return ["".join(word[:1] + word[1:].lower() for word in token.split("_")) for token in name[9:].split("__")]


def merge(into: dict[str, Any], other: dict[str, Any], overwrite: bool) -> dict[str, Any]:
    """Sections merge key by key; a value already there is replaced only when ``overwrite``."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value, overwrite)
        elif key not in into or overwrite:
            into[key] = value
    return into


def from_environment(environ: dict[str, str]) -> dict[str, Any]:
    configuration: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.startswith("ORTHANC__"):
            continue
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        *parents, leaf = setting_path(name)
        node = configuration
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return configuration


def build(files: list[str], environ: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The configuration, and the libraries of the plugins it enables."""
    configuration: dict[str, Any] = {}
    for path in sorted(files):
        with open(path, encoding="utf-8") as handle:
            text = _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", handle.read())
        merge(configuration, json.loads(text), overwrite=True)
    merge(configuration, from_environment(environ), overwrite=True)
    merge(configuration, json.loads(json.dumps(DEFAULTS)), overwrite=False)
    libraries = []
    for section, root_setting, variable, library in PLUGINS.values():
        if variable in environ:
            enabled = environ[variable] != "false"  # the image: anything but "false" enables
        else:
            enabled = section in configuration or (root_setting is not None and root_setting in configuration)
        if enabled:
            libraries.append(library)
    return configuration, libraries


def main() -> int:
    configuration, libraries = build(glob.glob("/etc/orthanc/*.json"), dict(os.environ))
    if (
        configuration.get("RemoteAccessAllowed", True)
        and configuration.get("AuthenticationEnabled", True)
        and not configuration.get("RegisteredUsers")
    ):
        print("ERROR: HTTP authentication is enabled and remote access is allowed, but no user is declared")
        return 3
    folder = "/run/orthanc/plugins" if os.path.isdir("/run/orthanc/plugins") else "/usr/share/orthanc/plugins"
    for library in libraries:
        target = os.path.join(folder, library)
        if not os.path.exists(target):  # a restarted container has it already
            os.link(os.path.join(AVAILABLE, library), target)
    with open(OUTPUT, "w", encoding="utf-8") as handle:
        json.dump(configuration, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
