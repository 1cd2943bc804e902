"""The only place that talks to Orthanc: settings in, callbacks registered, answers handed over.

Besides the worklist callback it registers the REST routes of :mod:`vetmwl.web.rest` under one prefix
and a "Worklist" entry on Orthanc Explorer's home page. The ``orthanc`` module is passed in to
:func:`register`, so tests drive this file with a small fake.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import jinja2

from . import __version__, performed
from .config import STUDY_EVENTS, ConfigError, load_settings, orthanc_warnings
from .errors import FAILED, INTERNAL, OK, REFUSED, DatabaseError, InternalError, QueryError
from .hostcheck import hostid_problem
from .service import FindResult, WorklistService
from .web.identifiers import mask_person_names
from .web.metrics import Metrics
from .web.querylog import QueryLog
from .web.rest import PREFIX, STATIC_DIR, Response, RestApi, error_response

log = logging.getLogger("vetmwl")

#: Every callback handed to Orthanc, held until the process ends. orthanc-python 5.0 and 7.1 drop
#: their reference to a REST callback only after the embedded interpreter is finalized; a callback
#: nobody else holds (a closure) is then deallocated in a dead interpreter, and Orthanc dies with
#: SIGSEGV at every stop (see docs/known-limits.md).
_HELD: list[Callable[..., Any]] = []


def _held(callback: Callable[..., Any]) -> Callable[..., Any]:
    _HELD.append(callback)
    return callback


class OrthancLogHandler(logging.Handler):
    """Sends the core's log records to Orthanc's log, at the matching level."""

    def __init__(self, orthanc: ModuleType) -> None:
        super().__init__()
        self._orthanc = orthanc

    def emit(self, record: logging.LogRecord) -> None:
        """Never raises: a record that cannot be written must not fail the C-FIND that logs it."""
        try:
            text = "SqlWorklist: " + self.format(record)
            if record.levelno >= logging.ERROR:
                self._orthanc.LogError(text)
            elif record.levelno >= logging.WARNING:
                self._orthanc.LogWarning(text)
            else:
                self._orthanc.LogInfo(text)
        except Exception:
            self.handleError(record)


def tracing(orthanc: ModuleType) -> bool:
    """Whether Orthanc runs with ``--trace``: only then do DEBUG lines (with patient names) appear."""
    try:
        count = orthanc.GetCommandLineArgumentsCount()
        return any(orthanc.GetCommandLineArgument(n) == "--trace" for n in range(count))
    except AttributeError:
        return False


def _install_logging(orthanc: ModuleType) -> None:
    for handler in list(log.handlers):
        if isinstance(handler, OrthancLogHandler):
            log.removeHandler(handler)
    log.addHandler(OrthancLogHandler(orthanc))
    log.setLevel(logging.DEBUG if tracing(orthanc) else logging.INFO)
    log.propagate = False


@dataclass(frozen=True)
class Peer:
    """Who asks: calling and called AE titles, and the calling IP address where Orthanc gives it."""

    calling_aet: str
    called_aet: str
    address: str | None = None

    def __str__(self) -> str:
        where = f" ({self.address})" if self.address else ""
        return f"{self.calling_aet}{where} -> {self.called_aet}"


def make_callback(
    service: WorklistService,
    querylog: QueryLog | None = None,
    metrics: Metrics | None = None,
    lock: threading.Lock | None = None,
) -> Callable[[Any, Any, Peer], None]:
    """Answers one C-FIND for a :class:`Peer`: one summary log line, a failure status on any error.

    Each C-FIND also lands in the query log and the metrics; both only append and count, as
    Orthanc runs this under its global lock. ``lock`` keeps the worklist page's calls to
    ``service.find`` from running at the same time as a C-FIND. Failures are told apart by whose
    fault they are (see :mod:`vetmwl.errors`): refused, failed or internal.
    """
    querylog = querylog if querylog is not None else QueryLog()
    metrics = metrics if metrics is not None else Metrics()
    lock = lock if lock is not None else threading.Lock()

    def on_worklist(answers: Any, query: Any, peer: Peer) -> None:
        when, started = time.time(), time.perf_counter()
        raw = query.WorklistGetDicomQuery()
        result: FindResult | None = None

        def remember(status: str, error: str = "") -> None:
            seconds = time.perf_counter() - started
            count = len(result.answers) if result and status == OK else 0
            incomplete = bool(result and result.incomplete)
            metrics.observe_cfind(status, seconds, count, incomplete)
            querylog.record(
                time=when,
                calling_aet=peer.calling_aet,
                called_aet=peer.called_aet,
                calling_address=peer.address,
                status=status,
                answers=count,
                incomplete=incomplete,
                seconds=seconds,
                sql_seconds=result.sql_seconds if result else None,
                error=error,
                identifier=raw,
            )

        try:
            with lock:
                result = service.find(raw, peer.calling_aet, peer.address)
            handing_over = time.perf_counter()
            _hand_over(answers, query, result)
            handover = time.perf_counter() - handing_over
        except Exception as error:
            _refuse(error, peer, remember, metrics)
        remember(OK)
        _summary(peer, result, handover, started)

    return on_worklist


def _refuse(error: Exception, peer: Peer, remember: Callable[[str, str], None], metrics: Metrics) -> NoReturn:
    """Record and log a failed C-FIND by whose fault it is (see :mod:`vetmwl.errors`), and raise
    what makes Orthanc answer the modality with a failure status."""
    if isinstance(error, QueryError):
        remember(REFUSED, str(error))
        log.warning("C-FIND from %s refused: %s", peer, error)
        raise RuntimeError(f"worklist query refused: {error}") from None
    if isinstance(error, DatabaseError):
        metrics.database_error("cfind")
        remember(FAILED, str(error))
        log.error("C-FIND from %s failed: %s", peer, error)
        raise RuntimeError(f"worklist database error: {error}") from None
    if isinstance(error, InternalError):
        remember(INTERNAL, str(error))
        log.error(
            "C-FIND from %s failed by an internal error of the plugin (please report it): %s; keys=%s sql=%s",
            peer,
            error,
            mask_person_names(error.keys),
            " ".join(error.sql.split()) or "(none)",
        )
        raise RuntimeError(f"worklist internal error: {error}") from None
    remember(INTERNAL, f"internal error: {error}")
    log.error("C-FIND from %s failed by an internal error of the plugin (please report it)", peer, exc_info=error)
    raise error


def _summary(peer: Peer, result: FindResult, handover: float, started: float) -> None:
    """The one INFO line of a C-FIND. Patient, owner and physician names stay out of it; --trace
    shows them. The time split (parse, sql, build, handover to Orthanc) is what bench/breakdown.py
    reports."""
    keys = result.query.matching_keys()
    ignored = f" ignored={','.join(result.ignored_keys)}" if result.ignored_keys else ""
    log.info(
        "C-FIND from %s keys=%s answers=%d%s parse=%.2fms sql=%.2fms build=%.2fms handover=%.2fms total=%.2fms%s",
        peer,
        mask_person_names(keys),
        len(result.answers),
        " (limit reached, marked incomplete)" if result.incomplete else "",
        result.parse_seconds * 1000,
        result.sql_seconds * 1000,
        result.build_seconds * 1000,
        handover * 1000,
        (time.perf_counter() - started) * 1000,
        ignored,
    )
    log.debug("C-FIND from %s with names: keys=%s", peer, keys)


def _hand_over(answers: Any, query: Any, result: FindResult) -> None:
    """Give Orthanc the answers. Orthanc checks each against the query with its own matcher; when
    it refuses one, say why in words: some Orthancs (1.10) refuse every answer to a query that
    holds a private attribute."""
    for answer in result.answers:
        try:
            answers.WorklistAddAnswer(query, answer)
        except Exception as error:
            private = result.query.private_tags
            if private:
                raise QueryError(
                    f"the query holds the private attribute(s) {', '.join(private)}, which this Orthanc's "
                    "worklist matcher does not accept: leave them out of the modality's worklist query"
                ) from None
            raise InternalError(f"Orthanc refused an answer the plugin wrote ({error})") from None
    if result.incomplete:
        answers.WorklistMarkIncomplete()


def _refusing_callback(
    reason: str, querylog: QueryLog | None = None, metrics: Metrics | None = None
) -> Callable[[Any, Any, Peer], None]:
    """Registered when the configuration is broken: every query fails and the log says why."""

    def on_worklist(answers: Any, query: Any, peer: Peer) -> None:
        error = f"the plugin is not configured: {reason}"
        if querylog is not None and metrics is not None:
            metrics.observe_cfind(FAILED, 0.0)
            querylog.record(
                time=time.time(),
                calling_aet=peer.calling_aet,
                called_aet=peer.called_aet,
                calling_address=peer.address,
                status=FAILED,
                error=error,
                identifier=query.WorklistGetDicomQuery(),
            )
        log.error("C-FIND from %s refused: %s", peer, error)
        raise RuntimeError(f"SqlWorklist is not configured: {reason}")

    return on_worklist


def register_worklist(orthanc: ModuleType, answer: Callable[[Any, Any, Peer], None]) -> bool:
    """Register ``answer`` with the newest worklist callback this orthanc-python has.

    ``RegisterWorklistCallback2`` (orthanc-python 7) gives the connection, with the calling IP
    address; the older one gives the two AE titles only. Returns whether the address is known.
    """
    if hasattr(orthanc, "RegisterWorklistCallback2"):

        def on_worklist2(answers: Any, query: Any, connection: Any) -> None:
            peer = Peer(
                connection.GetConnectionRemoteAet(),
                connection.GetConnectionCalledAet(),
                connection.GetConnectionRemoteIp(),
            )
            answer(answers, query, peer)

        orthanc.RegisterWorklistCallback2(_held(on_worklist2))
        return True

    def on_worklist(answers: Any, query: Any, issuer_aet: str, called_aet: str) -> None:
        answer(answers, query, Peer(issuer_aet, called_aet))

    orthanc.RegisterWorklistCallback(_held(on_worklist))
    return False


def send(output: Any, response: Response) -> None:
    """Hand a :class:`vetmwl.web.rest.Response` to Orthanc's RestOutput."""
    if response.status == 200:
        output.AnswerBuffer(response.body, response.content_type)
    elif response.status in (301, 302, 303, 307, 308):
        output.Redirect(response.location)
    elif response.status == 405:
        output.SendMethodNotAllowed(response.allow)
    else:
        output.SetHttpHeader("Content-Type", response.content_type)
        try:
            output.SendHttpStatus(response.status, response.body)
        except TypeError:
            # orthanc-python 4.0 wants the body as text plus its length in bytes; 4.2 and later take
            # the body alone. A call with the wrong arguments raises before anything is sent.
            output.SendHttpStatus(response.status, response.body.decode("utf-8"), len(response.body))


def _header(headers: Mapping[str, str], name: str) -> str:
    """A request header by its name in any case ('' when absent)."""
    return str(next((v for k, v in headers.items() if k.lower() == name), ""))


def basic_user(headers: Mapping[str, str]) -> str:
    """The user name of an HTTP Basic ``Authorization`` header, which Orthanc has checked before the
    plugin sees the request (for the history of a void); '' without one. The password is dropped."""
    scheme, _, encoded = _header(headers, "authorization").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        user = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return ""
    return "".join(c for c in user if c.isprintable())[:64]


def make_rest_callback(api: RestApi) -> Any:
    """The REST callback for every URI under the prefix; a bug answers 500 and logs its traceback."""

    def on_rest(output: Any, uri: str, **request: Any) -> None:
        try:
            body = request.get("body") or b""
            response = api.handle(
                request.get("method", "GET"),
                uri[len(PREFIX) :],
                request.get("get") or {},
                body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
                user=basic_user(request.get("headers") or {}),
                content_type=_header(request.get("headers") or {}, "content-type"),
            )
        except Exception:
            log.exception("the REST request %s failed", uri)
            response = error_response(500, "failed", "internal error in the SqlWorklist plugin: see Orthanc's log")
        send(output, response)

    return on_rest


def _orthanc_version(orthanc: ModuleType) -> Callable[[], str]:
    """Orthanc's version, asked on first use: the REST API cannot be called while plugins load."""

    @functools.cache
    def version() -> str:
        return str(json.loads(orthanc.RestApiGet("/system"))["Version"])

    return version


def _register_web(orthanc: ModuleType, api: RestApi) -> None:
    """The REST routes under one prefix, and the "Worklist" entry in Orthanc Explorer."""
    if not hasattr(orthanc, "RegisterRestCallback"):
        log.warning("this orthanc-python cannot register REST routes: the worklist page and %s are off", PREFIX)
        return
    orthanc.RegisterRestCallback(PREFIX + "(/.*)?", _held(make_rest_callback(api)))
    orthanc.ExtendOrthancExplorer((STATIC_DIR / "explorer-extension.js").read_text(encoding="utf-8"))
    if hasattr(orthanc, "SetRootUri"):
        # The Python plugin's entry on Explorer's "Plugins" page then opens the worklist page.
        orthanc.SetRootUri(f"..{PREFIX}/app/index.html")
    log.info("worklist page at %s/app/index.html (REST: worklist, queries, steps, health, metrics)", PREFIX)


def _storage_as_orthanc_reads_it(orthanc: ModuleType, configuration: dict[str, Any]) -> dict[str, Any]:
    """The configuration with ``StorageDirectory`` absolute: Orthanc reads a relative one from the
    folder of its configuration (the file's folder, or the folder given), not from its working
    directory, and the state store's SQLite file belongs beside Orthanc's storage."""
    storage = configuration.get("StorageDirectory", "OrthancStorage")
    if not isinstance(storage, str) or Path(storage).is_absolute() or not hasattr(orthanc, "GetConfigurationPath"):
        return configuration
    read_from = Path(orthanc.GetConfigurationPath())
    base = read_from if read_from.is_dir() else read_from.parent
    return {**configuration, "StorageDirectory": str(base / storage)}


def _describer(orthanc: ModuleType) -> performed.Describe:
    """How Orthanc describes a study, for the study-arrival thread (never called from a callback).
    Who stored it is asked only when the thread wants to know, instance by instance."""

    def get(uri: str) -> Any:
        return json.loads(orthanc.RestApiGet(uri))

    def describe(orthanc_id: str) -> performed.Description:
        study = get(f"/studies/{orthanc_id}")
        statistics = get(f"/studies/{orthanc_id}/statistics")

        def senders() -> Iterator[str]:
            for series in study.get("Series", []):
                for instance in get(f"/series/{series}").get("Instances", []):
                    yield str(get(f"/instances/{instance}/metadata?expand").get("RemoteAET", ""))

        def modalities() -> list[str]:
            table = get("/modalities?expand")
            return [str(m.get("AET", "")) for m in table.values() if isinstance(m, dict)]

        return performed.Description(study, statistics, senders, modalities)

    return describe


def _register_changes(
    orthanc: ModuleType, stopping: list[Callable[[], None]], arrivals: performed.StudyArrivals | None
) -> None:
    """One change callback: a study event (NewStudy or StableStudy, as configured) goes to
    ``arrivals``; on Orthanc's stop, ``stopping`` runs, so that nothing of ours is still running
    when Orthanc finalizes the embedded Python right after ``ORTHANC_STOPPED``."""
    if not hasattr(orthanc, "RegisterOnChangeCallback"):
        if arrivals is not None:
            log.warning("this orthanc-python cannot tell the plugin about new studies: StudyArrival is off")
        return
    stopped = orthanc.ChangeType.ORTHANC_STOPPED
    study_event = getattr(orthanc.ChangeType, STUDY_EVENTS[arrivals.event]) if arrivals is not None else None

    def on_change(change_type: Any, level: Any, resource: str) -> None:
        if change_type == study_event and arrivals is not None:
            arrivals.put(resource)
        elif change_type == stopped:
            for step in stopping:
                try:
                    step()
                except Exception:  # the next steps must still run, or Orthanc may not exit
                    log.exception("while stopping (%s)", getattr(step, "__qualname__", step))
            log.info("Orthanc is stopping: the database connections are closed")

    orthanc.RegisterOnChangeCallback(_held(on_change))


def _register_broken(
    orthanc: ModuleType,
    reason: str,
    querylog: QueryLog,
    metrics: Metrics,
    version: Callable[[], str],
    warnings: tuple[str, ...],
) -> None:
    """A broken configuration: every C-FIND fails saying why, and the health page says it too."""
    log.error("configuration error, worklist queries will fail until it is fixed: %s", reason)
    knows_address = register_worklist(orthanc, _refusing_callback(reason, querylog, metrics))
    api = RestApi(
        None,
        querylog,
        metrics,
        config_error=reason,
        orthanc_version=version,
        knows_address=knows_address,
        warnings=warnings,
    )
    _register_web(orthanc, api)


def register(orthanc: ModuleType, sql_folder: Path | None = None) -> WorklistService | None:
    """Read the configuration once, build the service, register the worklist callback, the web
    parts and the clean-up at Orthanc's stop. ``sql_folder``: the repository's ``sql`` folder, as
    the plugin script finds it beside itself.

    The REST routes are registered even when the configuration is broken, so the health page can
    say what is wrong.
    """
    _install_logging(orthanc)
    configuration = _storage_as_orthanc_reads_it(orthanc, json.loads(orthanc.GetConfiguration()))
    for warning in orthanc_warnings(configuration):
        log.warning(warning)
    querylog, metrics, lock = QueryLog(), Metrics(), threading.Lock()
    version = _orthanc_version(orthanc)
    machine = hostid_problem()
    if machine:
        log.warning(machine)
    warnings = (machine,) if machine else ()
    try:
        settings = load_settings(configuration, sql_folder=sql_folder)
    except ConfigError as error:
        _register_broken(orthanc, str(error), querylog, metrics, version, warnings)
        return None
    try:
        store = performed.make_store(settings, str(configuration.get("Name", "")))
        service = WorklistService(settings, progress=store)
    except jinja2.TemplateError as error:  # a site's own template that does not compile
        where = getattr(error, "filename", None) or getattr(error, "name", None) or settings.template
        reason = (
            f"the SQL template {where} cannot be compiled: {error} (a site's own copy: check the folder of "
            '"SqlWorklist.TemplateDirectory", or "SqlWorklist.Template")'
        )
        _register_broken(orthanc, reason, querylog, metrics, version, warnings)
        return None
    log.warning("version %s serving the worklist from SQL: %s", __version__, settings.summary())
    try:
        service.view()
    except (DatabaseError, InternalError) as error:
        log.error("the worklist database is not usable yet (will retry on each query): %s", error)
    knows_address = register_worklist(orthanc, make_callback(service, querylog, metrics, lock))
    if settings.by_address and not knows_address:
        log.warning(
            'this orthanc-python does not tell the calling address: the "Modalities" entries with '
            '"@address" never apply (their AE title\'s plain entry, or the defaults, do)'
        )
    api = RestApi(
        service,
        querylog,
        metrics,
        orthanc_version=version,
        lock=lock,
        knows_address=knows_address,
        warnings=warnings,
        progress=store,
    )
    _register_web(orthanc, api)
    stopping: list[Callable[[], None]] = [service.close]
    arrivals = None
    if store is not None:
        running = performed.start(
            settings, store, metrics, _describer(orthanc), can_stop=hasattr(orthanc, "RegisterOnChangeCallback")
        )
        arrivals = running.arrivals
        stopping = running.stopping + stopping
    _register_changes(orthanc, stopping, arrivals)
    return service
