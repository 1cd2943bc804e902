"""Plugin settings: read once from Orthanc's configuration, validated, with explicit defaults."""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from . import dialects
from .charset import CODECS, LATIN1, UTF8

SECTION = "SqlWorklist"
#: The dialects of the settings, as :mod:`vetmwl.dialects` lists them.
DIALECTS = tuple(dialects.DIALECTS)
#: Names the folder of the plugin's SQL (``queries/`` and ``schema/``) for the tools, and for an
#: Orthanc whose plugin script does not say where it is.
SQL_DIR_VARIABLE = "VETMWL_SQL_DIR"

#: SPS statuses offered when a query does not ask for one (mwl-spec §4 pitfall 10).
DEFAULT_STATUSES = ("SCHEDULED", "ARRIVED", "READY")
# A CS value (PS3.5 Table 6.2-1): upper-case letters, digits, space and underscore, 16 at most.
_CS = re.compile(r"[A-Z0-9_ ]{1,16}")
# An AE title: 16 characters at most, no backslash or control characters, not only spaces.
_AE = re.compile(r"[^\\\x00-\x1f]{1,16}")
# A plain or schema-qualified SQL identifier; anything else could smuggle SQL into the template.
# Anchored with \A and \Z (not $, which also matches before a final newline), so that a caller's
# .match checks the whole value as .fullmatch does.
IDENTIFIER = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z_][A-Za-z0-9_]{0,127}){0,2}\Z")
# An ODBC value is either plain up to ';' or braced, where '}}' stands for a literal '}'.
_VALUE = r"(\{(?:[^}]|\}\})*\}|[^;]*)"
# The password keys of ODBC drivers: a PasswordFile conflicts with one of them.
_PASSWORD = re.compile(r"(?i)(?:^|(?<=;))\s*(pwd|password)\s*=\s*" + _VALUE)
# Every key that looks like it holds a secret (PWD, Password, sslpassword, AccessToken, a key's
# passphrase, a client secret...): masked wherever settings are shown.
_SECRET = re.compile(
    r"(?i)(?:^|(?<=;))\s*([A-Za-z_ ]*(?:pwd|passw|passphrase|secret|token|key|credential)[A-Za-z_ ]*)\s*=\s*" + _VALUE
)


class ConfigError(ValueError):
    """The plugin's configuration cannot work; the message says what to change."""


def mask_secrets(connection_string: str) -> str:
    """The connection string with every secret-looking value replaced, safe for logs and health pages."""
    return _SECRET.sub(lambda m: f"{m.group(1).strip()}=***", connection_string)


@dataclass(frozen=True)
class AeOptions:
    """What one calling AE title gets: answer character set, own-station restriction, modality
    aliases and offered statuses. The section's top-level keys are the defaults for every AE."""

    character_set: str = UTF8
    restrict_to_own_station: bool = False
    #: (asked modality, the modalities it matches), e.g. (("DX", ("DX", "CR")),)
    modality_aliases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    statuses: tuple[str, ...] = DEFAULT_STATUSES

    def aliases_of(self, modality: str) -> tuple[str, ...] | None:
        return dict(self.modality_aliases).get(modality)

    def summary(self) -> str:
        aliases = ",".join(f"{k}={'+'.join(v)}" for k, v in self.modality_aliases) or "none"
        return (
            f"charset={self.character_set!r} own_station={self.restrict_to_own_station} "
            f"aliases={aliases} statuses={'+'.join(self.statuses)}"
        )


#: The ``sql`` folder beside the package's ``plugin`` folder: the repository's, /opt/vetmwl's, the image's.
PACKAGE_SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def sql_dir(given: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the plugin's SQL: ``given`` (the plugin script passes the ``sql`` folder beside
    its own), else ``$VETMWL_SQL_DIR``, else the ``sql`` folder beside the package's ``plugin``
    folder (so the tools work from any working directory), else ``sql`` in the working directory."""
    if given is not None:
        return Path(given)
    environ = os.environ if environ is None else environ
    if environ.get(SQL_DIR_VARIABLE):
        return Path(environ[SQL_DIR_VARIABLE])
    return PACKAGE_SQL_DIR if PACKAGE_SQL_DIR.is_dir() else Path("sql")


#: The settings of StudyArrival.Event, each with the name of its Orthanc change event
#: (``orthanc.ChangeType``) that may complete a scheduled step when a study arrives.
STUDY_EVENTS = {"Off": "", "NewStudy": "NEW_STUDY", "StableStudy": "STABLE_STUDY"}
#: Keys an arrived study or an MPPS reference may be matched on to a scheduled step.
MATCH_KEYS = ("StudyInstanceUID", "AccessionNumber")
#: The state store's file when no ConnectionString is given, in Orthanc's StorageDirectory.
STATE_FILE = "vetmwl-progress.sqlite"


@dataclass(frozen=True)
class MppsTls:
    """DICOM TLS on the MPPS port: Orthanc's own ``DicomTls*`` files, as PEM paths."""

    certificate: str
    private_key: str
    #: The certificates a modality's must be one of or be signed by (when one is required).
    trusted_certificates: str = ""
    remote_certificate_required: bool = True
    #: Only TLS 1.3 (Orthanc's ``DicomTlsMinimumProtocolVersion`` 5); else TLS 1.2 or later.
    tls13_only: bool = False

    def context(self) -> ssl.SSLContext:
        """The server side's SSL context; OSError or ssl.SSLError when a file is unusable."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3 if self.tls13_only else ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.private_key)
        if self.remote_certificate_required:  # as DCMTK's --require-peer-cert; else --ignore-peer-cert
            context.load_verify_locations(cafile=self.trusted_certificates)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


@dataclass(frozen=True)
class MppsSettings:
    """The MPPS SCP: off unless enabled; its AE title is Orthanc's DicomAet unless ``aet`` is set.

    Enabled, it accepts only the calling AE titles of ``allowed_aets`` (``any_aet`` when the site
    said "*"), each from its Host when Orthanc's DicomModalities lists it (``modality_hosts``), and
    bounds what one peer may cost: associations, time, PDU and message sizes (docs/operations.md).
    """

    enable: bool = False
    port: int = 4243
    aet: str = ""
    #: Calling AE titles allowed to send MPPS; empty with ``any_aet`` False: none (MPPS cannot be enabled so).
    allowed_aets: tuple[str, ...] = ()
    #: "AllowedAETs": "*" was said on purpose: any calling AE title.
    any_aet: bool = False
    #: The IP address the SCP listens on: all IPv4 interfaces by default.
    listen_address: str = "0.0.0.0"
    #: (AE title, its Hosts) from Orthanc's DicomModalities: such an AE must call from one of them.
    modality_hosts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Orthanc's StrictAetComparison: AE titles of DicomModalities compared case-sensitively.
    strict_aet_comparison: bool = False
    #: An N-SET from an AE title or address other than the N-CREATE's is accepted (two-AE modalities).
    n_set_from_other_aets: bool = False
    max_associations: int = 32
    max_associations_per_host: int = 8
    acse_timeout: int = 30
    dimse_timeout: int = 30
    network_timeout: int = 30
    #: The largest P-DATA PDU a peer may send (its variable field, as A-ASSOCIATE's Maximum Length).
    max_pdu_size: int = 16384
    #: The most bytes one DIMSE message (command and data set) may carry.
    max_message_size: int = 4 * 1024 * 1024
    tls: MppsTls | None = None

    def hosts_of(self, aet: str) -> tuple[str, ...] | None:
        """The Hosts DicomModalities gives ``aet``; None when it does not list it."""
        found: tuple[str, ...] | None = None
        for name, hosts in self.modality_hosts:
            if name == aet or (not self.strict_aet_comparison and name.upper() == aet.upper()):
                found = (*(found or ()), *hosts)
        return found

    def allows(self, aet: str) -> bool:
        return self.any_aet or aet in self.allowed_aets

    def from_anywhere(self) -> list[str]:
        """What the SCP admits from any address: a warning each, since an AE title is only a name
        any device may give itself (DicomModalities with a Host pins one to its device)."""
        if self.any_aet:
            return ['"Mpps.AllowedAETs" is "*": any AE title, from any address, may send MPPS']
        return [
            f'MPPS from {aet} is accepted from any address: list {aet} in Orthanc\'s "DicomModalities" with '
            "its Host, so that only that device may use the title"
            for aet in self.allowed_aets
            if self.hosts_of(aet) is None
        ]

    def summary(self) -> str:
        if not self.enable:
            return "mpps=off"
        allowed = "any (*)" if self.any_aet else "+".join(self.allowed_aets)
        return (
            f"mpps=on listen={self.listen_address}:{self.port} aet={self.aet!r} allowed={allowed} "
            f"n_set_from_other_aets={self.n_set_from_other_aets} max_associations={self.max_associations} "
            f"per_host={self.max_associations_per_host} timeouts(acse/dimse/network)="
            f"{self.acse_timeout}/{self.dimse_timeout}/{self.network_timeout}s max_pdu={self.max_pdu_size} "
            f"max_message={self.max_message_size} tls={'on' if self.tls else 'off'}"
        )


@dataclass(frozen=True)
class ProgressSettings:
    """Where the state of performed steps lives, and when an arrived study completes a step."""

    #: ODBC connection string of a shared store; empty: a SQLite file (``sqlite_path``).
    connection_string: str = ""
    dialect: str = "sqlite"
    sqlite_path: Path = Path(STATE_FILE)
    #: Orthanc's change event that completes a step when a study arrives: Off, NewStudy or StableStudy.
    study_event: str = "Off"
    match_on: tuple[str, ...] = MATCH_KEYS
    #: The folder of the store's SQL templates (``sql/progress``).
    template_dir: Path = Path("sql/progress")
    #: Whether only a study stored by one of Orthanc's DicomModalities (its instances' RemoteAET)
    #: completes steps: Orthanc may accept stores from anyone (DicomAlwaysAllowStore).
    known_senders_only: bool = False
    #: Orthanc's StrictAetComparison: AE titles compared case-sensitively.
    strict_aet: bool = False
    #: Performed steps unchanged for this many days are deleted from the store (with their history).
    retention_days: int = 365

    def summary(self) -> str:
        store = mask_secrets(self.connection_string) if self.connection_string else str(self.sqlite_path)
        senders = " known_senders_only" if self.known_senders_only else ""
        return (
            f"study_event={self.study_event}{senders} match_on={'+'.join(self.match_on)} "
            f"store={self.dialect}:{store!r} retention={self.retention_days}d"
        )


@dataclass(frozen=True)
class Settings:
    connection_string: str
    dialect: str
    #: The folder of the query templates (``sql/queries``).
    template_dir: Path
    view: str = "worklist"
    template: str = "worklist.sql.j2"
    query_timeout: int = 5
    connect_timeout: int = 5
    limit_answers: int = 500
    defaults: AeOptions = field(default_factory=AeOptions)
    #: (calling AE title, its options), for the AEs listed in "Modalities".
    modalities: tuple[tuple[str, AeOptions], ...] = ()
    mpps: MppsSettings = field(default_factory=MppsSettings)
    progress: ProgressSettings = field(default_factory=ProgressSettings)

    @property
    def tracks_steps(self) -> bool:
        """Whether the plugin keeps a state of performed steps (MPPS, or studies that arrive)."""
        return self.mpps.enable or self.progress.study_event != "Off"

    @cached_property
    def _by_aet(self) -> dict[str, AeOptions]:
        return dict(self.modalities)

    def options_for(self, calling_aet: str | None, calling_address: str | None = None) -> AeOptions:
        """The options of a calling AE title (surrounding spaces ignored), else the defaults.

        An entry ``"AET@address"`` is preferred for that AE title calling from that address, so two
        devices that share one AE title can differ (where Orthanc tells the calling address).
        """
        if calling_aet is None:
            return self.defaults
        aet = calling_aet.strip()
        if calling_address is not None:
            found = self._by_aet.get(f"{aet}@{calling_address}")
            if found is not None:
                return found
        return self._by_aet.get(aet, self.defaults)

    @property
    def by_address(self) -> bool:
        """Whether some "Modalities" entry names a calling address."""
        return any("@" in key for key, _ in self.modalities)

    def summary(self) -> str:
        """One log line describing the configuration, password masked."""
        listed = "".join(f" [{aet}: {options.summary()}]" for aet, options in self.modalities)
        return (
            f"dialect={self.dialect} view={self.view} template={self.template} "
            f"query_timeout={self.query_timeout}s connect_timeout={self.connect_timeout}s "
            f"limit_answers={self.limit_answers} connection={mask_secrets(self.connection_string)!r} "
            f"defaults: {self.defaults.summary()}{listed} {self.mpps.summary()}"
            + (f" {self.progress.summary()}" if self.tracks_steps else "")
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
    "CharacterSet": "defaults",
    "RestrictToOwnStation": "defaults",
    "ModalityAliases": "defaults",
    "Statuses": "defaults",
    "Modalities": "modalities",
    "Mpps": "mpps",
    "StudyArrival": "progress",
    "StateStore": "progress",
}
_MPPS_KEYS = (
    "Enable",
    "Port",
    "AET",
    "AllowedAETs",
    "ListenAddress",
    "NSetFromOtherAETs",
    "MaxAssociations",
    "MaxAssociationsPerHost",
    "AcseTimeout",
    "DimseTimeout",
    "NetworkTimeout",
    "MaxPduSize",
    "MaxMessageSize",
)
_ARRIVAL_KEYS = ("Event", "MatchOn", "KnownSendersOnly")
_STORE_KEYS = ("ConnectionString", "PasswordFile", "Dialect", "RetentionDays")
#: The keys of one entry of "Modalities" (and the defaults they override).
_AE_KEYS = ("CharacterSet", "RestrictToOwnStation", "ModalityAliases", "Statuses")
_ENVIRONMENT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _connection_string(section: dict[str, Any], environ: Mapping[str, str], where: str = SECTION) -> str:
    """The connection string with ``${VARIABLE}`` taken from the environment and the password,
    if ``PasswordFile`` is set, read from that file: secrets need not sit in orthanc.json."""
    text = section.get("ConnectionString")
    if text is not None and not isinstance(text, str):
        raise ConfigError(f'"{where}.ConnectionString" must be the ODBC connection string (text), not {text!r}')
    if text is None or not text.strip():
        raise ConfigError(f'"{where}.ConnectionString" is missing: give the ODBC connection string')

    def variable(match: re.Match[str]) -> str:
        if match[1] not in environ:
            raise ConfigError(
                f'"{where}.ConnectionString" uses ${{{match[1]}}}, but Orthanc\'s environment has no {match[1]}'
            )
        return environ[match[1]]

    text = _ENVIRONMENT.sub(variable, text)
    password_file = section.get("PasswordFile")
    if password_file is None:
        return text
    if _PASSWORD.search(text):
        raise ConfigError(
            f'"{where}.PasswordFile" and a password in "{where}.ConnectionString" conflict: keep only one'
        )
    if not isinstance(password_file, str) or not password_file.strip():
        raise ConfigError(
            f'"{where}.PasswordFile" must be the path of a file holding the password, not {password_file!r}'
        )
    try:
        password = Path(password_file).read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f'"{where}.PasswordFile": {password_file!r} is not UTF-8 text') from None
    except OSError as exc:
        raise ConfigError(f'"{where}.PasswordFile": cannot read {password_file!r} ({exc.strerror or exc})') from None
    return text.rstrip(";") + ";PWD={" + password.replace("}", "}}") + "};"


def _integer(section: dict[str, Any], key: str, default: int, low: int, high: int, where: str = "") -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f'"{SECTION}.{where}{key}" must be a whole number from {low} to {high}, not {value!r}')
    return value


def _cs_list(value: Any, where: str) -> tuple[str, ...]:
    """A non-empty list of distinct CS values."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and _CS.fullmatch(v) for v in value):
        raise ConfigError(
            f'"{where}" must be a non-empty list of codes such as "SCHEDULED" or "DX" '
            f"(upper case, 16 characters at most), not {value!r}"
        )
    if len(set(value)) != len(value):
        raise ConfigError(f'"{where}" names a value twice: {value!r}')
    return tuple(value)


def _ae_options(entry: dict[str, Any], where: str, defaults: AeOptions) -> AeOptions:
    """Options from a section (the defaults) or one "Modalities" entry; absent keys inherit ``defaults``."""
    character_set = entry.get("CharacterSet", defaults.character_set)
    if not isinstance(character_set, str) or character_set not in CODECS:
        raise ConfigError(
            f'"{where}CharacterSet" must be "{UTF8}" (UTF-8) or "{LATIN1}" (Latin-1, transliterated), '
            f"not {character_set!r}"
        )
    restrict = entry.get("RestrictToOwnStation", defaults.restrict_to_own_station)
    if not isinstance(restrict, bool):
        raise ConfigError(f'"{where}RestrictToOwnStation" must be true or false, not {restrict!r}')
    statuses = _cs_list(entry["Statuses"], f"{where}Statuses") if "Statuses" in entry else defaults.statuses
    aliases = defaults.modality_aliases
    if "ModalityAliases" in entry:
        table = entry["ModalityAliases"]
        if not isinstance(table, dict):
            raise ConfigError(f'"{where}ModalityAliases" must be an object such as {{"DX": ["DX", "CR"]}}')
        pairs = []
        for modality, matched in table.items():
            if not _CS.fullmatch(modality):
                raise ConfigError(f'"{where}ModalityAliases": {modality!r} is not a modality code such as DX')
            listed = _cs_list(matched, f"{where}ModalityAliases.{modality}")
            if modality not in listed:
                raise ConfigError(
                    f'"{where}ModalityAliases.{modality}" must include {modality} itself: {listed!r} would make '
                    f"a query for {modality} miss the steps scheduled as {modality}"
                )
            pairs.append((modality, listed))
        aliases = tuple(pairs)
    return AeOptions(character_set, restrict, aliases, statuses)


def _modalities(section: dict[str, Any], defaults: AeOptions) -> tuple[tuple[str, AeOptions], ...]:
    table = section.get("Modalities", {})
    if not isinstance(table, dict):
        raise ConfigError(f'"{SECTION}.Modalities" must be an object with one entry per calling AE title')
    found: dict[str, AeOptions] = {}
    for key, entry in table.items():
        where = f"{SECTION}.Modalities.{key}."
        aet, _, address = key.rpartition("@") if isinstance(key, str) and "@" in key else (key, "", "")
        if not isinstance(aet, str) or not _AE.fullmatch(aet) or not aet.strip():
            raise ConfigError(
                f'"{SECTION}.Modalities": {key!r} is not an AE title (1 to 16 characters, no backslash), '
                'optionally followed by "@" and the calling IP address'
            )
        if address:
            try:
                address = str(ipaddress.ip_address(address))
            except ValueError:
                raise ConfigError(
                    f'"{SECTION}.Modalities": {key!r}: {address!r} is not an IP address such as 192.0.2.10'
                ) from None
        if not isinstance(entry, dict):
            raise ConfigError(f'"{where[:-1]}" must be an object with some of {", ".join(_AE_KEYS)}')
        unknown = sorted(set(entry) - set(_AE_KEYS))
        if unknown:
            raise ConfigError(
                f'unknown setting(s) in "{where[:-1]}": {", ".join(unknown)}; known: {", ".join(_AE_KEYS)}'
            )
        name = f"{aet.strip()}@{address}" if address else aet.strip()
        if name in found:
            raise ConfigError(f'"{SECTION}.Modalities" lists {name!r} twice')
        found[name] = _ae_options(entry, where, defaults)
    return tuple(found.items())


def _subsection(section: dict[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    entry = section.get(name, {})
    if not isinstance(entry, dict):
        raise ConfigError(f'"{SECTION}.{name}" must be an object with some of {", ".join(keys)}')
    unknown = sorted(set(entry) - set(keys))
    if unknown:
        raise ConfigError(f'unknown setting(s) in "{SECTION}.{name}": {", ".join(unknown)}; known: {", ".join(keys)}')
    return entry


def _mpps_number(entry: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f'"{SECTION}.Mpps.{key}" must be a whole number from {low} to {high}, not {value!r}')
    return value


def _mpps_flag(entry: dict[str, Any], key: str, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f'"{SECTION}.Mpps.{key}" must be true or false, not {value!r}')
    return value


def _modality_hosts(configuration: dict[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(AE title, Hosts) of Orthanc's DicomModalities, whose entries are [AET, Host, Port, ...]
    arrays or {"AET", "Host", "Port", ...} objects; Orthanc itself refuses malformed ones."""
    table = configuration.get("DicomModalities", {})
    hosts: dict[str, list[str]] = {}
    for entry in table.values() if isinstance(table, dict) else ():
        if isinstance(entry, list) and len(entry) >= 2:
            aet, host = entry[0], entry[1]
        elif isinstance(entry, dict):
            aet, host = entry.get("AET"), entry.get("Host")
        else:
            continue
        if isinstance(aet, str) and isinstance(host, str) and aet.strip() and host.strip():
            hosts.setdefault(aet.strip(), []).append(host.strip())
    return tuple((aet, tuple(dict.fromkeys(h))) for aet, h in hosts.items())


def _mpps_tls(configuration: dict[str, Any]) -> MppsTls | None:
    """DICOM TLS for the MPPS port from Orthanc's own settings, when ``DicomTlsEnabled`` is true;
    each file is tried at once, so a wrong one is named at startup."""
    enabled = configuration.get("DicomTlsEnabled", False)
    if enabled is not True:
        return None
    paths = {}
    required = configuration.get("DicomTlsRemoteCertificateRequired", True)
    if not isinstance(required, bool):
        raise ConfigError(f'"DicomTlsRemoteCertificateRequired" must be true or false, not {required!r}')
    keys = ["DicomTlsCertificate", "DicomTlsPrivateKey"] + (["DicomTlsTrustedCertificates"] if required else [])
    for key in keys:
        path = configuration.get(key)
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(
                f'"DicomTlsEnabled" is true, so the MPPS port uses DICOM TLS too, but "{key}" is not set: '
                "give the PEM file's path"
            )
        paths[key] = path
    version = configuration.get("DicomTlsMinimumProtocolVersion", 0)
    if version not in (0, 4, 5):
        raise ConfigError(
            f'"DicomTlsMinimumProtocolVersion" is {version!r}: the MPPS port takes 0 or 4 (TLS 1.2 or later) '
            "or 5 (TLS 1.3 only), never an older protocol"
        )
    tls = MppsTls(
        paths["DicomTlsCertificate"],
        paths["DicomTlsPrivateKey"],
        paths.get("DicomTlsTrustedCertificates", ""),
        required,
        version == 5,
    )
    try:
        tls.context()
    except (OSError, ssl.SSLError, ValueError) as error:
        raise ConfigError(
            f'"DicomTlsEnabled" is true, but the MPPS port cannot use "DicomTlsCertificate", "DicomTlsPrivateKey" '
            f'or "DicomTlsTrustedCertificates" ({", ".join(repr(p) for p in paths.values())}): {error}'
        ) from None
    return tls


def _mpps(section: dict[str, Any], configuration: dict[str, Any]) -> MppsSettings:
    entry = _subsection(section, "Mpps", _MPPS_KEYS)
    where = f"{SECTION}.Mpps."
    enable = _mpps_flag(entry, "Enable", False)
    port = entry.get("Port", MppsSettings.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f'"{where}Port" must be a TCP port from 1 to 65535, not {port!r}')
    if enable:
        for key, default in (("DicomPort", 4242), ("HttpPort", 8042)):
            if configuration.get(key, default) == port:
                raise ConfigError(
                    f'"{where}Port" is {port}, which Orthanc\'s "{key}" already uses: choose another port'
                )
    aet = entry.get("AET", "")
    if not isinstance(aet, str) or (aet and (not _AE.fullmatch(aet) or not aet.strip())):
        raise ConfigError(f'"{where}AET" must be an AE title (1 to 16 characters, no backslash), not {aet!r}')
    aet = aet.strip() or str(configuration.get("DicomAet", "ORTHANC")).strip()
    allowed = entry.get("AllowedAETs", [])
    any_aet = allowed == "*"
    if any_aet:
        allowed = []
    if not isinstance(allowed, list) or not all(isinstance(a, str) and _AE.fullmatch(a) and a.strip() for a in allowed):
        raise ConfigError(f'"{where}AllowedAETs" must be "*" (any) or a list of AE titles, not {allowed!r}')
    if enable and not allowed and not any_aet:
        raise ConfigError(
            f'"{where}AllowedAETs" must be set when "{where}Enable" is true: list the calling AE titles of the '
            'modalities that send MPPS (e.g. ["DX_ROOM1"]), or "*" to let any device on the network change the '
            "worklist"
        )
    address = entry.get("ListenAddress", MppsSettings.listen_address)
    try:
        address = str(ipaddress.ip_address(address if isinstance(address, str) else ""))
    except ValueError:
        raise ConfigError(
            f'"{where}ListenAddress" must be an IP address of this machine, such as "0.0.0.0" (every IPv4 '
            f'interface), "127.0.0.1" or "192.0.2.5", not {address!r}'
        ) from None
    max_associations = _mpps_number(entry, "MaxAssociations", MppsSettings.max_associations, 1, 1000)
    return MppsSettings(
        enable,
        port,
        aet,
        tuple(dict.fromkeys(a.strip() for a in allowed)),
        any_aet=any_aet,
        listen_address=address,
        modality_hosts=_modality_hosts(configuration),
        strict_aet_comparison=configuration.get("StrictAetComparison", False) is True,
        n_set_from_other_aets=_mpps_flag(entry, "NSetFromOtherAETs", False),
        max_associations=max_associations,
        max_associations_per_host=_mpps_number(
            entry,
            "MaxAssociationsPerHost",
            min(MppsSettings.max_associations_per_host, max_associations),
            1,
            max_associations,
        ),
        acse_timeout=_mpps_number(entry, "AcseTimeout", MppsSettings.acse_timeout, 1, 3600),
        dimse_timeout=_mpps_number(entry, "DimseTimeout", MppsSettings.dimse_timeout, 1, 3600),
        network_timeout=_mpps_number(entry, "NetworkTimeout", MppsSettings.network_timeout, 1, 3600),
        max_pdu_size=_mpps_number(entry, "MaxPduSize", MppsSettings.max_pdu_size, 4096, 131072),
        max_message_size=_mpps_number(entry, "MaxMessageSize", MppsSettings.max_message_size, 65536, 64 * 1024 * 1024),
        tls=_mpps_tls(configuration) if enable else None,
    )


def _progress(
    section: dict[str, Any], configuration: dict[str, Any], environ: Mapping[str, str], template_dir: Path
) -> ProgressSettings:
    arrival = _subsection(section, "StudyArrival", _ARRIVAL_KEYS)
    event = arrival.get("Event", "Off")
    if not isinstance(event, str) or event not in STUDY_EVENTS:
        raise ConfigError(f'"{SECTION}.StudyArrival.Event" must be one of {", ".join(STUDY_EVENTS)}, not {event!r}')
    match_on = arrival.get("MatchOn", list(MATCH_KEYS))
    if (
        not isinstance(match_on, list)
        or not match_on
        or not all(k in MATCH_KEYS for k in match_on)
        or len(set(match_on)) != len(match_on)
    ):
        raise ConfigError(
            f'"{SECTION}.StudyArrival.MatchOn" must be a non-empty list of {" and ".join(MATCH_KEYS)}, not {match_on!r}'
        )
    known_only = arrival.get("KnownSendersOnly", False)
    if not isinstance(known_only, bool):
        raise ConfigError(f'"{SECTION}.StudyArrival.KnownSendersOnly" must be true or false, not {known_only!r}')
    arrival_settings = {
        "study_event": event,
        "match_on": tuple(match_on),
        "template_dir": template_dir,
        "known_senders_only": known_only,
        "strict_aet": configuration.get("StrictAetComparison", False) is True,
    }
    store = _subsection(section, "StateStore", _STORE_KEYS)
    retention = _integer(store, "RetentionDays", ProgressSettings.retention_days, 1, 36500, "StateStore.")
    arrival_settings["retention_days"] = retention
    storage = Path(str(configuration.get("StorageDirectory", "OrthancStorage")))
    if "ConnectionString" not in store:
        if "Dialect" in store:
            raise ConfigError(
                f'"{SECTION}.StateStore.Dialect" is set without a "ConnectionString": give both, or neither'
            )
        return ProgressSettings(sqlite_path=storage / STATE_FILE, **arrival_settings)
    connection_string = _connection_string(store, environ, f"{SECTION}.StateStore")
    dialect = store.get("Dialect")
    if dialect not in DIALECTS:
        raise ConfigError(f'"{SECTION}.StateStore.Dialect" must be one of {", ".join(DIALECTS)}, not {dialect!r}')
    return ProgressSettings(connection_string, dialect, storage / STATE_FILE, **arrival_settings)


#: The templates the worklist reads from its TemplateDirectory besides its Template, and those of
#: the state store (sql/progress).
QUERY_TEMPLATES = ("columns.sql.j2", "probe.sql.j2", "macros.sql.j2")
PROGRESS_TEMPLATES = ("schema.sql.j2", "statements.sql.j2")


def _templates(section: dict[str, Any], sql_folder: Path | None) -> tuple[Path, str]:
    """The query templates' folder and template, each file there: a site's own folder must hold
    the plugin's other templates too (copy sql/queries and change what it needs)."""
    given = section.get("TemplateDirectory")
    if given is not None and (not isinstance(given, str) or not given.strip()):
        raise ConfigError(f'"{SECTION}.TemplateDirectory" must be the path of a folder of templates, not {given!r}')
    template_dir = Path(given) if given else sql_dir(sql_folder) / "queries"
    where = f'"{SECTION}.TemplateDirectory" ({template_dir})' if given else f"the plugin's folder {template_dir}"
    if not template_dir.is_dir():
        raise ConfigError(f"{where} is not a folder: give the folder of the query templates (a copy of sql/queries)")
    template = section.get("Template", Settings.template)
    if not isinstance(template, str) or not template.strip() or Path(template).name != template:
        raise ConfigError(
            f'"{SECTION}.Template" must be the file name of a template in {template_dir}, not {template!r}'
        )
    if not (template_dir / template).is_file():
        raise ConfigError(f'"{SECTION}.Template": no query template {template!r} in {template_dir}')
    missing = [name for name in QUERY_TEMPLATES if not (template_dir / name).is_file()]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}: copy them from the plugin's sql/queries")
    return template_dir, template


def load_settings(
    configuration: dict[str, Any], environ: Mapping[str, str] | None = None, sql_folder: Path | None = None
) -> Settings:
    """Build :class:`Settings` from Orthanc's whole configuration, or raise :class:`ConfigError`.
    ``sql_folder``: where ``sql/`` is, as the plugin script says (see :func:`sql_dir`)."""
    section = configuration.get(SECTION)
    if not isinstance(section, dict):
        raise ConfigError(
            f'orthanc.json has no "{SECTION}" section: add one with at least "ConnectionString" '
            f'and "Dialect" (see README.md)'
        )
    unknown = sorted(set(section) - set(_KEYS))
    if unknown:
        raise ConfigError(f'unknown setting(s) in "{SECTION}": {", ".join(unknown)}; known: {", ".join(sorted(_KEYS))}')
    environ = os.environ if environ is None else environ
    connection_string = _connection_string(section, environ)
    dialect = section.get("Dialect")
    if dialect not in DIALECTS:
        raise ConfigError(f'"{SECTION}.Dialect" must be one of {", ".join(DIALECTS)}, not {dialect!r}')
    view = section.get("View", Settings.view)
    if not isinstance(view, str) or not IDENTIFIER.fullmatch(view):
        raise ConfigError(
            f'"{SECTION}.View" must be a table or view name such as worklist or dbo.worklist, not {view!r}'
        )
    defaults = _ae_options(section, f"{SECTION}.", AeOptions())
    modalities = _modalities(section, defaults)
    template_dir, template = _templates(section, sql_folder)
    progress = _progress(section, configuration, environ, sql_dir(sql_folder) / "progress")
    if progress.study_event != "Off" or _mpps_enabled(section):
        missing = [name for name in PROGRESS_TEMPLATES if not (progress.template_dir / name).is_file()]
        if missing:
            raise ConfigError(
                f"the state store's templates {', '.join(missing)} are missing from {progress.template_dir}: "
                'reinstall the plugin with its sql folder, or turn "Mpps" and "StudyArrival" off'
            )
    return Settings(
        connection_string=connection_string,
        dialect=dialect,
        view=view,
        template=template,
        template_dir=template_dir,
        query_timeout=_integer(section, "QueryTimeout", Settings.query_timeout, 1, 300),
        connect_timeout=_integer(section, "ConnectTimeout", Settings.connect_timeout, 1, 300),
        limit_answers=_integer(section, "LimitAnswers", Settings.limit_answers, 1, 100_000),
        defaults=defaults,
        modalities=modalities,
        mpps=_mpps(section, configuration),
        progress=progress,
    )


def _mpps_enabled(section: dict[str, Any]) -> bool:
    entry = section.get("Mpps")
    return isinstance(entry, dict) and entry.get("Enable") is True


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
    warnings += _encoding_warnings(configuration)
    return warnings


def _character_sets(configuration: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The default and per-AE answer character sets as configured (read leniently, for warnings)."""
    section = configuration.get(SECTION)
    section = section if isinstance(section, dict) else {}
    default = section.get("CharacterSet", UTF8)
    listed = section.get("Modalities")
    per_ae = {
        str(aet): entry["CharacterSet"]
        for aet, entry in (listed.items() if isinstance(listed, dict) else [])
        if isinstance(entry, dict) and "CharacterSet" in entry
    }
    return default, per_ae


def _encoding_warnings(configuration: dict[str, Any]) -> list[str]:
    """Orthanc re-encodes every worklist answer in its DefaultEncoding, whatever the plugin wrote
    (see docs/character-sets.md); say when that defeats the configured character sets."""
    encoding = configuration.get("DefaultEncoding", "Latin1")
    default, per_ae = _character_sets(configuration)
    if encoding == "Utf8":
        latin1 = [a for a, c in per_ae.items() if c == LATIN1] + (["all other AEs"] if default == LATIN1 else [])
        if latin1:
            return [
                f'"CharacterSet": "{LATIN1}" is set for {", ".join(latin1)}, but "DefaultEncoding" is "Utf8": Orthanc '
                "re-encodes every answer in UTF-8 (ISO_IR 192), so those devices get the transliterated text in UTF-8; "
                'set "DefaultEncoding": "Latin1" for a Latin-1-only device'
            ]
        return []
    if encoding == "Latin1" and default == LATIN1:
        utf8 = [a for a, c in per_ae.items() if c == UTF8]
        if utf8:
            return [
                f'"CharacterSet": "{UTF8}" is set for {", ".join(utf8)}, but "DefaultEncoding" is "Latin1": Orthanc '
                "re-encodes every answer in Latin-1 and drops the characters Latin-1 lacks"
            ]
        return []
    return ['"DefaultEncoding" is not "Utf8": names outside Latin-1 (e.g. Japanese) are lost in answers']
