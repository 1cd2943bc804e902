"""Plugin settings: read once from Orthanc's configuration, validated, with explicit defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECTION = "SqlWorklist"
DIALECTS = ("mssql", "postgresql", "sqlite", "mariadb")
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "sql" / "queries"

# A plain or schema-qualified SQL identifier; anything else could smuggle SQL into the template.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z_][A-Za-z0-9_]{0,127}){0,2}$")
# An ODBC value is either plain up to ';' or braced, where '}}' stands for a literal '}'.
_SECRET = re.compile(r"(?i)\b(pwd|password)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)")


class ConfigError(ValueError):
    """The plugin's configuration cannot work; the message says what to change."""


def mask_secrets(connection_string: str) -> str:
    """The connection string with its password replaced, safe for logs and health pages."""
    return _SECRET.sub(lambda m: f"{m.group(1)}=***", connection_string)


@dataclass(frozen=True)
class Settings:
    connection_string: str
    dialect: str
    view: str = "worklist"
    template: str = "worklist.sql.j2"
    template_dir: Path = field(default=DEFAULT_TEMPLATE_DIR)
    query_timeout: int = 5
    connect_timeout: int = 5
    limit_answers: int = 500

    def summary(self) -> str:
        """One log line describing the configuration, password masked."""
        return (
            f"dialect={self.dialect} view={self.view} template={self.template} "
            f"query_timeout={self.query_timeout}s connect_timeout={self.connect_timeout}s "
            f"limit_answers={self.limit_answers} connection={mask_secrets(self.connection_string)!r}"
        )


_KEYS = {
    "ConnectionString": "connection_string",
    "Dialect": "dialect",
    "View": "view",
    "Template": "template",
    "TemplateDirectory": "template_dir",
    "QueryTimeout": "query_timeout",
    "ConnectTimeout": "connect_timeout",
    "LimitAnswers": "limit_answers",
    "PasswordFile": "connection_string",
}
_ENVIRONMENT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _connection_string(section: dict[str, Any], environ: Mapping[str, str]) -> str:
    """The connection string with ``${VARIABLE}`` taken from the environment and the password,
    if ``PasswordFile`` is set, read from that file: secrets need not sit in orthanc.json."""
    text = section.get("ConnectionString")
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f'"{SECTION}.ConnectionString" is missing: give the ODBC connection string')

    def variable(match: re.Match[str]) -> str:
        if match[1] not in environ:
            raise ConfigError(
                f'"{SECTION}.ConnectionString" uses ${{{match[1]}}}, but Orthanc\'s environment has no {match[1]}'
            )
        return environ[match[1]]

    text = _ENVIRONMENT.sub(variable, text)
    password_file = section.get("PasswordFile")
    if password_file is None:
        return text
    if _SECRET.search(text):
        raise ConfigError(
            f'"{SECTION}.PasswordFile" and a password in "{SECTION}.ConnectionString" conflict: keep only one'
        )
    try:
        password = Path(password_file).read_text(encoding="utf-8").strip()
    except (OSError, TypeError) as exc:
        raise ConfigError(f'"{SECTION}.PasswordFile": cannot read {password_file!r} ({exc})') from None
    return text.rstrip(";") + ";PWD={" + password.replace("}", "}}") + "};"


def _integer(section: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f'"{SECTION}.{key}" must be a whole number from {low} to {high}, not {value!r}')
    return value


def load_settings(configuration: dict[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from Orthanc's whole configuration, or raise :class:`ConfigError`."""
    section = configuration.get(SECTION)
    if not isinstance(section, dict):
        raise ConfigError(
            f'orthanc.json has no "{SECTION}" section: add one with at least "ConnectionString" '
            f'and "Dialect" (see README.md)'
        )
    unknown = sorted(set(section) - set(_KEYS))
    if unknown:
        raise ConfigError(f'unknown setting(s) in "{SECTION}": {", ".join(unknown)}; known: {", ".join(sorted(_KEYS))}')
    connection_string = _connection_string(section, os.environ if environ is None else environ)
    dialect = section.get("Dialect")
    if dialect not in DIALECTS:
        raise ConfigError(f'"{SECTION}.Dialect" must be one of {", ".join(DIALECTS)}, not {dialect!r}')
    view = section.get("View", Settings.view)
    if not isinstance(view, str) or not IDENTIFIER.match(view):
        raise ConfigError(
            f'"{SECTION}.View" must be a table or view name such as worklist or dbo.worklist, not {view!r}'
        )
    template_dir = Path(section.get("TemplateDirectory", DEFAULT_TEMPLATE_DIR))
    template = section.get("Template", Settings.template)
    if not isinstance(template, str) or not (template_dir / template).is_file():
        raise ConfigError(f'"{SECTION}.Template": no query template {template!r} in {template_dir}')
    return Settings(
        connection_string=connection_string,
        dialect=dialect,
        view=view,
        template=template,
        template_dir=template_dir,
        query_timeout=_integer(section, "QueryTimeout", Settings.query_timeout, 1, 300),
        connect_timeout=_integer(section, "ConnectTimeout", Settings.connect_timeout, 1, 300),
        limit_answers=_integer(section, "LimitAnswers", Settings.limit_answers, 1, 100_000),
    )


def orthanc_warnings(configuration: dict[str, Any]) -> list[str]:
    """Problems in Orthanc's own settings that would stop modalities from getting the worklist."""
    warnings = []
    stock = configuration.get("Worklists")
    if isinstance(stock, dict) and stock.get("Enable", False):
        warnings.append(
            'the "Worklists" section enables Orthanc\'s own worklist plugin, which competes with this one '
            'for worklist queries: set "Worklists.Enable" to false or remove the section'
        )
    modalities = configuration.get("DicomModalities", {})
    allowed = any(
        isinstance(m, dict) and m.get("AllowFindWorklist", False)
        for m in (modalities.values() if isinstance(modalities, dict) else [])
    )
    if not configuration.get("DicomAlwaysAllowFindWorklist", False) and not allowed:
        warnings.append(
            'neither "DicomAlwaysAllowFindWorklist" nor any modality\'s "AllowFindWorklist" is true: '
            "Orthanc will refuse every worklist query"
        )
    if configuration.get("DefaultEncoding", "Latin1") != "Utf8":
        warnings.append('"DefaultEncoding" is not "Utf8": names outside Latin-1 (e.g. Japanese) are lost in answers')
    return warnings
