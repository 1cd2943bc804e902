"""The plugin's REST API as pure request-to-response handlers, so tests need no Orthanc.

Routes (under :data:`PREFIX`, GET only): ``/worklist`` (what a modality would get, through
``WorklistService.find`` like a C-FIND), ``/queries`` (the recent C-FIND log), ``/health``,
``/metrics`` (Prometheus text) and ``/app/...`` (the Explorer page). Orthanc authenticates every
request before it reaches a plugin, so nothing here checks credentials; nothing here shows a
password either (see :func:`vetmwl.config.mask_secrets`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import AeOptions, MppsSettings, ProgressSettings, Settings, mask_secrets
from ..errors import DatabaseError, InternalError, QueryError
from ..service import WorklistService
from .identifiers import answer_fields, describe_identifier, worklist_identifier
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .querylog import QueryLog, QueryRecord

log = logging.getLogger("vetmwl.web.rest")

PREFIX = "/sql-worklist"
STATIC_DIR = Path(__file__).with_name("static")
CALLING_ADDRESS_NOTE = (
    "this orthanc-python gives the worklist callback the calling and called AE titles only, not the "
    "modality's network address (orthanc-python 7 does)"
)
JSON = "application/json; charset=utf-8"
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
_STATIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# A DICOM date or date range (PS3.4 C.2.2.2.5); the service explains anything subtler.
_DATE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
_STATION = re.compile(r"^[^\\\x00-\x1f]{0,16}$")
_MODALITY = re.compile(r"^[A-Z0-9_ ]{0,16}$")


@dataclass(frozen=True)
class Response:
    """What to send back: Orthanc's wiring turns it into the matching RestOutput call."""

    status: int
    content_type: str = JSON
    body: bytes = b""
    location: str = ""
    allow: str = ""


def json_response(status: int, data: Any) -> Response:
    # ASCII only: Orthanc sends non-200 bodies through a call that takes text and its length.
    return Response(status, JSON, json.dumps(data, ensure_ascii=True).encode("ascii"))


def error_response(status: int, outcome: str, message: str) -> Response:
    return json_response(status, {"status": outcome, "error": message})


def configuration_summary(settings: Settings) -> dict[str, Any]:
    """Every setting, JSON-ready, with the connection string's password masked."""
    summary: dict[str, Any] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if f.name == "connection_string":
            value = mask_secrets(value)
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, AeOptions):
            value = _options_json(value)
        elif f.name == "modalities":
            value = {aet: _options_json(options) for aet, options in value}
        elif isinstance(value, MppsSettings):
            value = {**asdict(value), "allowed_aets": list(value.allowed_aets)}
        elif isinstance(value, ProgressSettings):
            value = {
                **asdict(value),
                "connection_string": mask_secrets(value.connection_string),
                "sqlite_path": str(value.sqlite_path),
                "match_on": list(value.match_on),
            }
        summary[f.name] = value
    return summary


def _options_json(options: AeOptions) -> dict[str, Any]:
    data = asdict(options)
    data["modality_aliases"] = {asked: list(matched) for asked, matched in options.modality_aliases}
    data["statuses"] = list(options.statuses)
    return data


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def record_json(entry: QueryRecord) -> dict[str, Any]:
    """One C-FIND of the ring as JSON; the identifier is decoded only now, not in the callback."""
    matching, requested = describe_identifier(entry.identifier)
    return {
        "seq": entry.seq,
        "time": _iso(entry.time),
        "calling_aet": entry.calling_aet,
        "calling_address": entry.calling_address,
        "called_aet": entry.called_aet,
        "keys": dict(matching),
        "requested": list(requested),
        "answers": entry.answers,
        "incomplete": entry.incomplete,
        "ms": _ms(entry.seconds),
        "sql_ms": _ms(entry.sql_seconds),
        "status": entry.status,
        "error": entry.error,
    }


class RestApi:
    """The handlers behind :data:`PREFIX`; ``service`` is None when the configuration is broken."""

    def __init__(
        self,
        service: WorklistService | None,
        querylog: QueryLog,
        metrics: Metrics,
        *,
        config_error: str = "",
        orthanc_version: Callable[[], str] = lambda: "unknown",
        lock: threading.Lock | None = None,
        static_dir: Path = STATIC_DIR,
        today: Callable[[], date] = date.today,
        knows_address: bool = False,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.service = service
        #: Why ``calling_address`` is null, or None when Orthanc tells the address.
        self.address_note = None if knows_address else CALLING_ADDRESS_NOTE
        #: Problems of the machine that slow worklist queries down without failing them.
        self.warnings = list(warnings)
        self.querylog = querylog
        self.metrics = metrics
        self.config_error = config_error
        self._orthanc_version = orthanc_version
        self._lock = lock if lock is not None else threading.Lock()
        self._static_dir = static_dir
        self._today = today
        self._healthy: bool | None = None

    def handle(self, method: str, path: str, args: Mapping[str, str]) -> Response:
        """Route one request; ``path`` is what follows the prefix (``''``, ``/health``, ...)."""
        if method != "GET":
            return Response(405, allow="GET")
        routes: dict[str, Callable[[Mapping[str, str]], Response]] = {
            "/worklist": self.worklist,
            "/queries": self.queries,
            "/health": self.health,
            "/metrics": self.metrics_text,
        }
        if path in routes:
            return routes[path](args)
        if path in ("", "/", "/app", "/app/"):
            # Absolute: Orthanc drops a trailing slash from the URI, so a relative target cannot be right.
            return Response(301, location=f"{PREFIX}/app/index.html")
        if path.startswith("/app/"):
            return self.static(path[len("/app/") :])
        return error_response(404, "not found", f"no such route: {PREFIX}{path}")

    # -- /worklist ------------------------------------------------------------------------------
    def worklist(self, args: Mapping[str, str]) -> Response:
        """The answers a modality would get for a date, station and modality, as JSON."""
        if self.service is None:
            return error_response(503, "failed", f"the plugin is not configured: {self.config_error}")
        day = args.get("date")
        day = f"{self._today():%Y%m%d}" if day is None else day.strip()
        station = args.get("station", "").strip()
        modality = args.get("modality", "").strip().upper()
        calling_aet = args.get("aet", "").strip()
        if not _DATE.match(day):
            return error_response(400, "refused", f"date must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD, not {day!r}")
        if not _STATION.match(station):
            return error_response(400, "refused", f"station must be an AE title (up to 16 characters), not {station!r}")
        if not _MODALITY.match(modality):
            return error_response(400, "refused", f"modality must be a code such as DX or US, not {modality!r}")
        if not _STATION.match(calling_aet):
            return error_response(400, "refused", f"aet must be an AE title (up to 16 characters), not {calling_aet!r}")
        raw = worklist_identifier(day, station, modality)
        try:
            with self._lock:
                result = self.service.find(raw, calling_aet or None)
        except QueryError as error:
            return error_response(400, "refused", str(error))
        except DatabaseError as error:
            self.metrics.database_error("rest")
            log.warning("the worklist page could not read the database: %s", error)
            return error_response(503, "failed", str(error))
        except InternalError as error:
            log.error("the worklist page met an internal error of the plugin (please report it): %s", error)
            return error_response(500, "internal", str(error))
        matching, _ = describe_identifier(raw)
        return json_response(
            200,
            {
                "date": day,
                "station": station,
                "modality": modality,
                "aet": calling_aet,
                "keys": dict(matching),
                "count": len(result.answers),
                "incomplete": result.incomplete,
                "ignored_keys": list(result.ignored_keys),
                "sql_ms": _ms(result.sql_seconds),
                "total_ms": _ms(result.total_seconds),
                "items": [answer_fields(answer) for answer in result.answers],
            },
        )

    # -- /queries -------------------------------------------------------------------------------
    def queries(self, args: Mapping[str, str]) -> Response:
        """The recent C-FINDs, newest first; ``since`` (a sequence number) and ``limit`` narrow it."""
        try:
            since = int(args.get("since", "0"))
            limit = int(args.get("limit", str(self.querylog.capacity)))
        except ValueError:
            return error_response(400, "refused", "since and limit must be whole numbers")
        records = self.querylog.recent(since=since, limit=max(limit, 0))
        return json_response(
            200,
            {
                "capacity": self.querylog.capacity,
                "total": self.querylog.total,
                "calling_address": self.address_note,
                "queries": [record_json(r) for r in records],
            },
        )

    # -- /health --------------------------------------------------------------------------------
    def _probe(self) -> tuple[bool, float, str]:
        """Run the probe query; Database.fetch enforces its own deadline, so this cannot hang."""
        assert self.service is not None
        started = time.perf_counter()
        try:
            sql = self.service.renderer.render_named("probe.sql.j2")
            self.service.database.fetch(sql, max_rows=1)
        except DatabaseError as error:
            self.metrics.database_error("health")
            return False, time.perf_counter() - started, str(error)
        except Exception as error:  # a missing or broken probe template
            return False, time.perf_counter() - started, f"the health probe could not run: {error}"
        return True, time.perf_counter() - started, ""

    def _version_of_orthanc(self) -> str:
        with contextlib.suppress(Exception):
            return self._orthanc_version()
        return "unknown"

    def health(self, args: Mapping[str, str] | None = None) -> Response:
        """200 when the database answers the probe, 503 (with the reasons) when it does not."""
        problems: list[str] = []
        body: dict[str, Any] = {
            "plugin": {"version": __version__},
            "orthanc": {"version": self._version_of_orthanc()},
            "calling_address": self.address_note,
        }
        if self.service is None:
            problems.append(f"configuration error, worklist queries fail until it is fixed: {self.config_error}")
            body["database"] = {"reachable": False, "probe_ms": None, "error": ""}
            body["configuration"] = None
            body["summary"] = ""
        else:
            reachable, seconds, error = self._probe()
            if not reachable:
                problems.append(error)
            body["database"] = {"reachable": reachable, "probe_ms": _ms(seconds), "error": error}
            body["configuration"] = configuration_summary(self.service.settings)
            body["summary"] = self.service.settings.summary()
        recent = self.querylog.recent(limit=1)
        body["queries"] = {
            "total": self.querylog.total,
            "last": record_json(recent[0]) if recent else None,
        }
        healthy = not problems
        body = {"status": "ok" if healthy else "degraded", "problems": problems, "warnings": self.warnings, **body}
        self._log_change(healthy, problems)
        return json_response(200 if healthy else 503, body)

    def _log_change(self, healthy: bool, problems: list[str]) -> None:
        """One WARNING when health turns bad and one when it recovers, however often it is polled."""
        was, self._healthy = self._healthy, healthy
        if was is not False and not healthy:
            log.warning("health check: degraded: %s", "; ".join(problems))
        elif was is False and healthy:
            log.warning("health check: the database answers again")

    # -- /metrics and /app ----------------------------------------------------------------------
    def metrics_text(self, args: Mapping[str, str] | None = None) -> Response:
        dialect = self.service.settings.dialect if self.service is not None else "unconfigured"
        opened = self.service.database.opened if self.service is not None else 0
        text = self.metrics.render({"version": __version__, "dialect": dialect}, connections_opened=opened)
        return Response(200, METRICS_CONTENT_TYPE, text.encode("utf-8"))

    def static(self, name: str) -> Response:
        """A file of the Explorer page; only plain names in the static folder, never a path."""
        path = self._static_dir / name
        content_type = _STATIC_TYPES.get(path.suffix)
        if not _STATIC_NAME.match(name) or content_type is None or not path.is_file():
            return error_response(404, "not found", f"no such file: {PREFIX}/app/{name}")
        return Response(200, content_type, path.read_bytes())
