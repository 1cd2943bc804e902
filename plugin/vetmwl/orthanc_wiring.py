"""The only place that talks to Orthanc: settings in, callbacks registered, answers handed over.

Besides the worklist callback it registers the REST routes of :mod:`vetmwl.rest` under one prefix
and a "Worklist" entry on Orthanc Explorer's home page. The ``orthanc`` module is passed in to
:func:`register`, so tests drive this file with a small fake.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from . import __version__
from .config import ConfigError, load_settings, orthanc_warnings
from .db import DatabaseError
from .identifiers import mask_person_names
from .metrics import Metrics
from .query import QueryError
from .querylog import QueryLog
from .rest import PREFIX, STATIC_DIR, Response, RestApi, error_response
from .service import FindResult, WorklistService

log = logging.getLogger("vetmwl")


class OrthancLogHandler(logging.Handler):
    """Sends the core's log records to Orthanc's log, at the matching level."""

    def __init__(self, orthanc: ModuleType) -> None:
        super().__init__()
        self._orthanc = orthanc

    def emit(self, record: logging.LogRecord) -> None:
        text = "SqlWorklist: " + self.format(record)
        if record.levelno >= logging.ERROR:
            self._orthanc.LogError(text)
        elif record.levelno >= logging.WARNING:
            self._orthanc.LogWarning(text)
        else:
            self._orthanc.LogInfo(text)


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


def make_callback(
    service: WorklistService,
    querylog: QueryLog | None = None,
    metrics: Metrics | None = None,
    lock: threading.Lock | None = None,
) -> Any:
    """The worklist callback: one summary log line per C-FIND, a failure status on any error.

    Each C-FIND also lands in the query log and the metrics; both only append and count, as
    Orthanc runs this under its global lock. ``lock`` keeps the worklist page's calls to
    ``service.find`` from running at the same time as a C-FIND.
    """
    querylog = querylog if querylog is not None else QueryLog()
    metrics = metrics if metrics is not None else Metrics()
    lock = lock if lock is not None else threading.Lock()

    def on_worklist(answers: Any, query: Any, issuer_aet: str, called_aet: str) -> None:
        when, started = time.time(), time.perf_counter()
        who = f"{issuer_aet} -> {called_aet}"
        raw = query.WorklistGetDicomQuery()

        def remember(status: str, error: str = "", result: FindResult | None = None) -> None:
            seconds = time.perf_counter() - started
            count = len(result.answers) if result else 0
            incomplete = bool(result and result.incomplete)
            metrics.observe_cfind(status, seconds, count, incomplete)
            querylog.record(
                time=when,
                calling_aet=issuer_aet,
                called_aet=called_aet,
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
                result = service.find(raw, issuer_aet)
            handing_over = time.perf_counter()
            for answer in result.answers:
                answers.WorklistAddAnswer(query, answer)
            handover = time.perf_counter() - handing_over
            if result.incomplete:
                answers.WorklistMarkIncomplete()
        except QueryError as error:
            remember("refused", str(error))
            log.warning("C-FIND from %s refused: %s", who, error)
            raise RuntimeError(f"worklist query refused: {error}") from None
        except DatabaseError as error:
            metrics.database_error("cfind")
            remember("failed", str(error))
            log.error("C-FIND from %s failed: %s", who, error)
            raise RuntimeError(f"worklist database error: {error}") from None
        except Exception as error:
            remember("failed", f"internal error: {error}")
            raise
        remember("ok", result=result)
        keys = result.query.matching_keys()
        ignored = f" ignored={','.join(result.ignored_keys)}" if result.ignored_keys else ""
        # Patient, owner and physician names stay out of the INFO line; --trace shows them.
        # The time split (parse, sql, build, handover to Orthanc) is what bench/run.py reports.
        log.info(
            "C-FIND from %s keys=%s answers=%d%s parse=%.2fms sql=%.2fms build=%.2fms handover=%.2fms total=%.2fms%s",
            who,
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
        log.debug("C-FIND from %s with names: keys=%s", who, keys)

    return on_worklist


def _refusing_callback(reason: str, querylog: QueryLog | None = None, metrics: Metrics | None = None) -> Any:
    """Registered when the configuration is broken: every query fails and the log says why."""

    def on_worklist(answers: Any, query: Any, issuer_aet: str, called_aet: str) -> None:
        error = f"the plugin is not configured: {reason}"
        if querylog is not None and metrics is not None:
            metrics.observe_cfind("failed", 0.0)
            querylog.record(
                time=time.time(),
                calling_aet=issuer_aet,
                called_aet=called_aet,
                status="failed",
                error=error,
                identifier=query.WorklistGetDicomQuery(),
            )
        log.error("C-FIND from %s refused: %s", issuer_aet, error)
        raise RuntimeError(f"SqlWorklist is not configured: {reason}")

    return on_worklist


def send(output: Any, response: Response) -> None:
    """Hand a :class:`vetmwl.rest.Response` to Orthanc's RestOutput."""
    if response.status == 200:
        output.AnswerBuffer(response.body, response.content_type)
    elif response.status in (301, 302, 303, 307, 308):
        output.Redirect(response.location)
    elif response.status == 405:
        output.SendMethodNotAllowed(response.allow)
    else:
        # orthanc-python 4.0 takes the body of other statuses as text plus its length in bytes.
        output.SetHttpHeader("Content-Type", response.content_type)
        output.SendHttpStatus(response.status, response.body.decode("utf-8"), len(response.body))


def make_rest_callback(api: RestApi) -> Any:
    """The REST callback for every URI under the prefix; a bug answers 500 and logs its traceback."""

    def on_rest(output: Any, uri: str, **request: Any) -> None:
        try:
            response = api.handle(request.get("method", "GET"), uri[len(PREFIX) :], request.get("get") or {})
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
    orthanc.RegisterRestCallback(PREFIX + "(/.*)?", make_rest_callback(api))
    orthanc.ExtendOrthancExplorer((STATIC_DIR / "explorer-extension.js").read_text(encoding="utf-8"))
    if hasattr(orthanc, "SetRootUri"):
        # The Python plugin's entry on Explorer's "Plugins" page then opens the worklist page.
        orthanc.SetRootUri(f"..{PREFIX}/app/index.html")
    log.info("worklist page at %s/app/index.html (REST: worklist, queries, health, metrics)", PREFIX)


def register(orthanc: ModuleType) -> WorklistService | None:
    """Read the configuration once, build the service, register the worklist callback and the web parts.

    The REST routes are registered even when the configuration is broken, so the health page can
    say what is wrong.
    """
    _install_logging(orthanc)
    configuration = json.loads(orthanc.GetConfiguration())
    for warning in orthanc_warnings(configuration):
        log.warning(warning)
    querylog, metrics, lock = QueryLog(), Metrics(), threading.Lock()
    version = _orthanc_version(orthanc)
    try:
        settings = load_settings(configuration)
    except ConfigError as error:
        log.error("configuration error, worklist queries will fail until it is fixed: %s", error)
        orthanc.RegisterWorklistCallback(_refusing_callback(str(error), querylog, metrics))
        _register_web(orthanc, RestApi(None, querylog, metrics, config_error=str(error), orthanc_version=version))
        return None
    service = WorklistService(settings)
    log.warning("version %s serving the worklist from SQL: %s", __version__, settings.summary())
    try:
        service.columns()
    except DatabaseError as error:
        log.error("the worklist database is not usable yet (will retry on each query): %s", error)
    orthanc.RegisterWorklistCallback(make_callback(service, querylog, metrics, lock))
    _register_web(orthanc, RestApi(service, querylog, metrics, orthanc_version=version, lock=lock))
    return service
