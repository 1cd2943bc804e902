"""The only place that talks to Orthanc: settings in, callback registered, answers handed over.

The ``orthanc`` module is passed in to :func:`register`, so tests drive this file with a small fake.
"""

from __future__ import annotations

import json
import logging
from types import ModuleType
from typing import Any

from . import __version__
from .config import ConfigError, load_settings, orthanc_warnings
from .db import DatabaseError
from .query import QueryError
from .service import WorklistService

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


def _install_logging(orthanc: ModuleType) -> None:
    for handler in list(log.handlers):
        if isinstance(handler, OrthancLogHandler):
            log.removeHandler(handler)
    log.addHandler(OrthancLogHandler(orthanc))
    log.setLevel(logging.INFO)
    log.propagate = False


def make_callback(service: WorklistService) -> Any:
    """The worklist callback: one summary log line per C-FIND, a failure status on any error."""

    def on_worklist(answers: Any, query: Any, issuer_aet: str, called_aet: str) -> None:
        who = f"{issuer_aet} -> {called_aet}"
        try:
            result = service.find(query.WorklistGetDicomQuery())
        except QueryError as error:
            log.warning("C-FIND from %s refused: %s", who, error)
            raise RuntimeError(f"worklist query refused: {error}") from None
        except DatabaseError as error:
            log.error("C-FIND from %s failed: %s", who, error)
            raise RuntimeError(f"worklist database error: {error}") from None
        for answer in result.answers:
            answers.WorklistAddAnswer(query, answer)
        if result.incomplete:
            answers.WorklistMarkIncomplete()
        ignored = f" ignored={','.join(result.ignored_keys)}" if result.ignored_keys else ""
        log.info(
            "C-FIND from %s keys=%s answers=%d%s sql=%.1fms total=%.1fms%s",
            who,
            result.query.matching_keys(),
            len(result.answers),
            " (limit reached, marked incomplete)" if result.incomplete else "",
            result.sql_seconds * 1000,
            result.total_seconds * 1000,
            ignored,
        )

    return on_worklist


def _refusing_callback(reason: str) -> Any:
    """Registered when the configuration is broken: every query fails and the log says why."""

    def on_worklist(answers: Any, query: Any, issuer_aet: str, called_aet: str) -> None:
        log.error("C-FIND from %s refused: the plugin is not configured: %s", issuer_aet, reason)
        raise RuntimeError(f"SqlWorklist is not configured: {reason}")

    return on_worklist


def register(orthanc: ModuleType) -> WorklistService | None:
    """Read the configuration once, build the service and register the worklist callback."""
    _install_logging(orthanc)
    configuration = json.loads(orthanc.GetConfiguration())
    for warning in orthanc_warnings(configuration):
        log.warning(warning)
    try:
        settings = load_settings(configuration)
    except ConfigError as error:
        log.error("configuration error, worklist queries will fail until it is fixed: %s", error)
        orthanc.RegisterWorklistCallback(_refusing_callback(str(error)))
        return None
    service = WorklistService(settings)
    log.warning("version %s serving the worklist from SQL: %s", __version__, settings.summary())
    try:
        service.columns()
    except DatabaseError as error:
        log.error("the worklist database is not usable yet (will retry on each query): %s", error)
    orthanc.RegisterWorklistCallback(make_callback(service))
    return service
