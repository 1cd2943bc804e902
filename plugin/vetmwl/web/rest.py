"""The plugin's REST API as pure request-to-response handlers, so tests need no Orthanc.

Routes (under :data:`PREFIX`, GET but for ``POST /steps/<uid>/void``): ``/worklist`` (what a modality would get, through
``WorklistService.find`` like a C-FIND), ``/queries`` (the recent C-FIND log), ``/steps`` and
``/steps/<uid>`` (the performed steps of the state store: MPPS and arrived studies; ``POST
/steps/<uid>/void`` puts one back), ``/health``,
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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from .. import __version__
from ..config import AeOptions, MppsSettings, ProgressSettings, Settings, mask_secrets
from ..dicomtime import ValueFormatError, parse_datetime_span
from ..errors import DatabaseError, InternalError, QueryError
from ..progress import PerformedStep, ProgressStore, UnknownStep
from ..service import WorklistService
from .identifiers import answer_fields, describe_identifier, worklist_identifier
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import Metrics
from .querylog import QueryLog, QueryRecord

log = logging.getLogger("vetmwl.web.rest")
_T = TypeVar("_T")

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
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A DICOM date or date range (PS3.4 C.2.2.2.5); the service explains anything subtler.
_DATE = re.compile(r"(\d{8})?(-(\d{8})?)?")
_STATION = re.compile(r"[^\\\x00-\x1f]{0,16}")
_MODALITY = re.compile(r"[A-Z0-9_ ]{0,16}")
#: A performed step's UID as the store keeps it: an MPPS SOP Instance UID, or "study:" and a Study
#: Instance UID; anything printable up to 200 characters is looked up, never interpreted.
_STEP_UID = re.compile(r"[^\x00-\x1f/]{1,200}")
STEPS_NOTE = (
    "performed steps are not recorded: set SqlWorklist.Mpps.Enable to true (MPPS from modalities) or "
    "SqlWorklist.StudyArrival.Event to NewStudy or StableStudy (studies arriving in Orthanc)"
)
STEPS_LIMIT, STEPS_MAX = 100, 1000
#: ``POST /steps/<uid>/void``: staff put a performed step back; its optional JSON body
#: ``{"reason": "..."}`` goes into the step's history, cut to REASON_MAX characters.
VOID_SUFFIX, REASON_MAX = "/void", 200
#: DICOM JSON tags of an MPPS: Performed Series Sequence, and the two sequences of what each series holds.
_PERFORMED_SERIES = "00400340"
_INSTANCE_SEQUENCES = ("00081140", "00400220")  # Referenced Image, Referenced Non-Image Composite SOP Instance
#: An arrived study's counts, when its attributes are DICOM JSON (Number of Study Related Series/Instances).
_STUDY_SERIES, _STUDY_INSTANCES = "00201206", "00201208"
#: What was done, in DICOM JSON: Performed Procedure Step Description, else Study Description.
_DESCRIPTIONS = ("00400254", "00081030")


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
                "template_dir": str(value.template_dir),
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


def _utc(microseconds: int) -> str:
    return datetime.fromtimestamp(microseconds / 1e6, UTC).isoformat(timespec="milliseconds")


def dicom_datetime_iso(text: str) -> str | None:
    """A DT value (``YYYYMMDDHHMMSS.ffffff&ZZXX``, any precision) in ISO 8601, its UTC offset kept
    when it has one; None when empty or not a date-time."""
    value = text.strip(" ")
    if not value:
        return None
    try:
        moment = parse_datetime_span(value)[0]
    except ValueFormatError:
        return None
    offset = re.search(r"([+-])(\d{2})(\d{2})$", value)
    iso = moment.isoformat()
    return f"{iso}{offset[1]}{offset[2]}:{offset[3]}" if offset else iso


def _count(value: Any) -> int | None:
    """A count as the wiring or DICOM JSON gives it (3, "3", [3], ["3"]); None when it is not one."""
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _items(data: Any, tag: str) -> list[dict[str, Any]] | None:
    """The items of a DICOM JSON sequence; [] when it is there but empty, None when it is not there."""
    element = data.get(tag) if isinstance(data, dict) else None
    if not isinstance(element, dict):
        return None
    value = element.get("Value")
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dicom_value(data: dict[str, Any], tag: str) -> Any:
    element = data.get(tag)
    return element.get("Value") if isinstance(element, dict) else None


def arrived(attributes: str) -> dict[str, Any]:
    """What a performed step says arrived: ``series`` and ``instances`` counts, the Orthanc study ID
    of an arrived study, and ``description`` (what was done); each None when the attributes do not say.

    Two shapes are read: DICOM JSON of an MPPS (its Performed Series Sequence, each series with its
    Referenced Image and Referenced Non-Image Composite SOP Instance sequences) or of a study's main
    tags (Number of Study Related Series and Instances); and the plain object the wiring stores for an
    arrived study (``OrthancStudy``, ``Series``, ``Instances``, ``StudyInstanceUID``, ...).
    """
    found: dict[str, Any] = {"series": None, "instances": None, "orthanc_study": None, "description": None}
    try:
        data = json.loads(attributes or "{}")
    except ValueError:
        return found
    if not isinstance(data, dict):
        return found
    if any(key in data for key in ("OrthancStudy", "Series", "Instances")):
        study, description = data.get("OrthancStudy"), data.get("StudyDescription")
        found.update(
            series=_count(data.get("Series")),
            instances=_count(data.get("Instances")),
            orthanc_study=study if isinstance(study, str) and study else None,
            description=description.strip() or None if isinstance(description, str) else None,
        )
        return found
    for tag in _DESCRIPTIONS:
        value = _dicom_value(data, tag)
        if isinstance(value, list) and value and isinstance(value[0], str) and value[0].strip():
            found["description"] = value[0].strip()
            break
    series = _items(data, _PERFORMED_SERIES)
    if series is not None:
        found["series"] = len(series)
        found["instances"] = sum(len(_items(item, tag) or []) for item in series for tag in _INSTANCE_SEQUENCES)
        return found
    found["series"] = _count(_dicom_value(data, _STUDY_SERIES))
    found["instances"] = _count(_dicom_value(data, _STUDY_INSTANCES))
    return found


def step_json(step: PerformedStep) -> dict[str, Any]:
    """One performed step as the REST API and the page show it."""
    return {
        "uid": step.uid,
        "kind": step.kind,
        "status": step.status,
        "calling_aet": step.calling_aet,
        "calling_address": step.calling_address,
        "station_aet": step.station_aet,
        "modality": step.modality,
        "started": step.started,
        "started_iso": dicom_datetime_iso(step.started),
        "ended": step.ended,
        "ended_iso": dicom_datetime_iso(step.ended),
        "recorded_by": step.recorded_by,
        "created": _utc(step.created_us),
        "updated": _utc(step.updated_us),
        "references": [
            {
                "ScheduledProcedureStepID": r.sps_id,
                "AccessionNumber": r.accession_number,
                "StudyInstanceUID": r.study_instance_uid,
                "RequestedProcedureID": r.requested_procedure_id,
            }
            for r in step.references
        ],
        "events": [
            {
                "time": _utc(e.time_us),
                "event": e.event,
                "status": e.status,
                "calling_aet": e.calling_aet,
                "detail": e.detail,
            }
            for e in step.events
        ],
        **arrived(step.attributes),
    }


def void_reason(body: bytes) -> str | Response:
    """The reason of a void, from its optional JSON body ``{"reason": "..."}``; '' when none."""
    if not body.strip():
        return ""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error_response(400, "refused", 'the body must be JSON such as {"reason": "wrong patient"}, or empty')
    reason = data.get("reason", "") if isinstance(data, dict) else None
    if not isinstance(reason, str) or (isinstance(data, dict) and set(data) - {"reason"}):
        return error_response(400, "refused", 'the body must be JSON such as {"reason": "wrong patient"}, or empty')
    reason = " ".join(reason.split())  # no line breaks or control characters in the history
    if len(reason) > REASON_MAX:
        return error_response(400, "refused", f"the reason is longer than {REASON_MAX} characters")
    return reason


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
    """The handlers behind :data:`PREFIX`; ``service`` is None when the configuration is broken,
    ``progress`` (the state store of performed steps) None when neither MPPS nor study arrival is on."""

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
        progress: ProgressStore | None = None,
    ) -> None:
        self.service = service
        self.progress = progress
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
        #: Whether the steps routes last read the state store (None: not yet), to warn once per outage.
        self._store_read: bool | None = None

    def handle(
        self,
        method: str,
        path: str,
        args: Mapping[str, str],
        body: bytes = b"",
        user: str = "",
        content_type: str = "",
    ) -> Response:
        """Route one request; ``path`` is what follows the prefix (``''``, ``/health``, ...).
        ``user``: who Orthanc authenticated (for the history of a void), '' when nobody."""
        if path.startswith("/steps/") and path.endswith(VOID_SUFFIX):
            if method != "POST":
                return Response(405, allow="POST")
            if content_type.split(";")[0].strip().lower() != "application/json":
                # A browser sends a cross-site POST only with a form's types, never this one.
                return error_response(415, "refused", "a void is a POST with Content-Type: application/json")
            return self.void(unquote(path[len("/steps/") : -len(VOID_SUFFIX)]), body, user)
        if method != "GET":
            return Response(405, allow="GET")
        routes: dict[str, Callable[[Mapping[str, str]], Response]] = {
            "/worklist": self.worklist,
            "/queries": self.queries,
            "/steps": self.steps,
            "/health": self.health,
            "/metrics": self.metrics_text,
        }
        if path in routes:
            return routes[path](args)
        if path.startswith("/steps/"):
            return self.step(unquote(path[len("/steps/") :]))
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
        if not _DATE.fullmatch(day):
            return error_response(400, "refused", f"date must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD, not {day!r}")
        if not _STATION.fullmatch(station):
            return error_response(400, "refused", f"station must be an AE title (up to 16 characters), not {station!r}")
        if not _MODALITY.fullmatch(modality):
            return error_response(400, "refused", f"modality must be a code such as DX or US, not {modality!r}")
        if not _STATION.fullmatch(calling_aet):
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

    # -- /steps ---------------------------------------------------------------------------------
    def steps(self, args: Mapping[str, str]) -> Response:
        """The performed steps that changed last, newest first, with references, history and counts."""
        if self.progress is None:
            return json_response(200, {"enabled": False, "count": 0, "steps": [], "note": STEPS_NOTE})
        text = args.get("limit", str(STEPS_LIMIT)).strip()
        if not text.isdigit() or not 1 <= int(text) <= STEPS_MAX:
            return error_response(400, "refused", f"limit must be a whole number from 1 to {STEPS_MAX}, not {text!r}")
        store = self.progress
        found = self._read_store(lambda: store.recent(int(text)))
        if isinstance(found, Response):
            return found
        steps = [step_json(s) for s in found]
        return json_response(200, {"enabled": True, "count": len(steps), "limit": int(text), "steps": steps})

    def step(self, uid: str) -> Response:
        """One performed step by its UID (an MPPS SOP Instance UID, or ``study:`` and a Study Instance UID)."""
        if self.progress is None:
            return error_response(404, "not found", STEPS_NOTE)
        if not _STEP_UID.fullmatch(uid):
            return error_response(400, "refused", f"not a performed step's UID: {uid[:80]!r}")
        store = self.progress
        found = self._read_store(lambda: store.get(uid))
        if isinstance(found, Response):
            return found
        if found is None:
            return error_response(404, "not found", f"no performed step {uid!r} in the state store")
        return json_response(200, step_json(found))

    def void(self, uid: str, body: bytes, user: str) -> Response:
        """Put a performed step back: VOIDED, with a VOID event naming ``user`` and the reason, so
        that its scheduled steps return to the worklist. Orthanc authenticated the request."""
        if self.progress is None:
            return error_response(404, "not found", STEPS_NOTE)
        if not _STEP_UID.fullmatch(uid):
            return error_response(400, "refused", f"not a performed step's UID: {uid[:80]!r}")
        reason = void_reason(body)
        if isinstance(reason, Response):
            return reason
        who = user or "REST"
        detail = f"voided over REST by {who}" + (f": {reason}" if reason else "")
        store = self.progress

        def void() -> bool | None:
            try:
                return store.void(uid, who, detail)
            except UnknownStep:
                return None

        done = self._read_store(void)
        if isinstance(done, Response):
            return done
        if done is None:
            return error_response(404, "not found", f"no performed step {uid!r} in the state store")
        if done:
            log.warning("performed step %s %s: its scheduled steps return to the worklist", uid, detail)
        found = self._read_store(lambda: store.get(uid))
        if isinstance(found, Response):
            return found
        step = step_json(found) if found is not None else None
        return json_response(200, {"status": "voided" if done else "already voided", "step": step})

    def _read_store(self, read: Callable[[], _T]) -> _T | Response:
        """What ``read`` finds, or the error response; a store that fails is logged once per outage."""
        try:
            found = read()
        except DatabaseError as error:
            if self._store_read is not False:
                log.warning("the performed steps could not be read from the state store: %s", error)
            self._store_read = False
            return error_response(503, "failed", str(error))
        except InternalError as error:
            log.error("reading the performed steps met an internal error of the plugin (please report it): %s", error)
            return error_response(500, "internal", str(error))
        if self._store_read is False:
            log.warning("the state store of performed steps answers again")
        self._store_read = True
        return found

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

    def _probe_progress(self) -> dict[str, Any]:
        """Whether the state store answers: one lookup by primary key (and, the first time, the
        tables made if missing), under the store's own deadline."""
        if self.progress is None:
            return {"enabled": False, "reachable": None, "probe_ms": None, "error": ""}
        started = time.perf_counter()
        error = ""
        try:
            self.progress.get("")
        except (DatabaseError, InternalError) as failure:
            error = str(failure)
        except Exception as failure:  # a missing or broken template of sql/progress
            error = f"the state store's probe could not run: {failure}"
        seconds = time.perf_counter() - started
        return {"enabled": True, "reachable": not error, "probe_ms": _ms(seconds), "error": error}

    def _version_of_orthanc(self) -> str:
        with contextlib.suppress(Exception):
            return self._orthanc_version()
        return "unknown"

    def health(self, args: Mapping[str, str] | None = None) -> Response:
        """200 when the database (and the state store, when on) answers its probe, else 503 with the reasons."""
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
        body["progress"] = self._probe_progress()
        if body["progress"]["error"]:
            problems.append(f"the state store of performed steps does not answer: {body['progress']['error']}")
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
            log.warning("health check: ok again, everything answers again")

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
        if not _STATIC_NAME.fullmatch(name) or content_type is None or not path.is_file():
            return error_response(404, "not found", f"no such file: {PREFIX}/app/{name}")
        return Response(200, content_type, path.read_bytes())
