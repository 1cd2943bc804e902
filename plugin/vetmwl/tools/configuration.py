"""Orthanc's configuration read as Orthanc reads it, for the command-line tools (the site check,
the steps tool): the plugin itself gets it from Orthanc (``orthanc.GetConfiguration``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..config import ConfigError

#: JSON strings (kept) or comments (dropped): Orthanc's configuration takes // and /* */ comments.
_COMMENTS = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)


def read_configuration(path: Path) -> dict[str, Any]:
    """Orthanc's configuration from a file, or from every ``*.json`` of a folder (a setting in two
    files is an error, as it is for Orthanc), with a relative StorageDirectory made absolute from
    that folder as Orthanc does. Raises ConfigError with one sentence saying what is wrong."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise ConfigError(f"{path} holds no *.json file: give the file or folder Orthanc is started with")
    merged: dict[str, Any] = {}
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"no Orthanc configuration at {file}: give the file or folder Orthanc is started with"
            ) from None
        except PermissionError:
            raise ConfigError(f"{file} cannot be read by this user: run the tool as Orthanc's user") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{file} cannot be read: {error}") from None
        try:
            content = json.loads(_COMMENTS.sub(lambda m: m[0] if m[0].startswith('"') else " ", text))
        except (ValueError, RecursionError) as error:
            raise ConfigError(f"{file}: cannot be read as Orthanc's JSON ({error})") from None
        if not isinstance(content, dict):
            raise ConfigError(f"{file} is not an Orthanc configuration (a JSON object of settings)")
        for key in content.keys() & merged.keys():
            raise ConfigError(f'{file}: "{key}" is also defined in another file of {path}, which Orthanc refuses')
        merged.update(content)
    storage = merged.get("StorageDirectory", "OrthancStorage")
    if isinstance(storage, str) and not Path(storage).is_absolute():
        base = path if path.is_dir() else path.parent
        merged["StorageDirectory"] = str(base.resolve() / storage)
    return merged
