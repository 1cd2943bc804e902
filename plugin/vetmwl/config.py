"""Plugin settings: read once from Orthanc's configuration, validated, with explicit defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECTION = "SqlWorklist"
DIALECTS = ("mssql", "postgresql", "sqlite")
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
}


def _integer(section: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f'"{SECTION}.{key}" must be a whole number from {low} to {high}, not {value!r}')
    return value


def load_settings(configuration: dict[str, Any]) -> Settings:
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
    connection_string = section.get("ConnectionString")
    if not isinstance(connection_string, str) or not connection_string.strip():
        raise ConfigError(f'"{SECTION}.ConnectionString" is missing: give the ODBC connection string')
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
