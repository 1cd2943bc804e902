"""A small fake of the ``orthanc`` module, for driving the wiring without Orthanc.

It has what the plugin calls, with orthanc-python's names and argument shapes, as three versions
have them: ``api=4`` is orthanc-python 4.0 (Debian 12: ``SendHttpStatus`` takes text and its size),
``api=5`` is 5.0 (Debian 13: it takes the body alone), and ``api=7`` is 7.1, which adds
``RegisterWorklistCallback2`` (the connection, with the calling IP address).
tests/matrix/test_orthanc_api.py checks these names against the real modules of the matrix.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

#: orthanc.ChangeType as orthanc-python has it (values as in OrthancCPlugin.h).
ChangeType = SimpleNamespace(
    COMPLETED_SERIES=0,
    DELETED=1,
    NEW_CHILD_INSTANCE=2,
    NEW_INSTANCE=3,
    NEW_PATIENT=4,
    NEW_SERIES=5,
    NEW_STUDY=6,
    STABLE_PATIENT=7,
    STABLE_SERIES=8,
    STABLE_STUDY=9,
    ORTHANC_STARTED=10,
    ORTHANC_STOPPED=11,
    UPDATED_ATTACHMENT=12,
    UPDATED_METADATA=13,
    UPDATED_PEERS=14,
    UPDATED_MODALITIES=15,
    JOB_SUBMITTED=16,
    JOB_SUCCESS=17,
    JOB_FAILURE=18,
)
ResourceType = SimpleNamespace(PATIENT=0, STUDY=1, SERIES=2, INSTANCE=3, NONE=4)


class FakeQuery:
    """orthanc.WorklistQuery: the C-FIND identifier as a DICOM file."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def WorklistGetDicomQuery(self) -> bytes:
        return self.raw


class FakeAnswers:
    """orthanc.WorklistAnswers. ``refuse`` makes WorklistAddAnswer raise as Orthanc's matcher can."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.added: list[bytes] = []
        self.incomplete = False
        self.refuse = refuse

    def WorklistAddAnswer(self, query: FakeQuery, answer: bytes) -> None:
        assert isinstance(query, FakeQuery)
        if self.refuse is not None:
            raise self.refuse
        self.added.append(answer)

    def WorklistMarkIncomplete(self) -> None:
        self.incomplete = True


class FakeConnection:
    """orthanc.DicomConnection, handed to RegisterWorklistCallback2's callback."""

    def __init__(self, calling_aet: str, called_aet: str, address: str) -> None:
        self._values = (calling_aet, called_aet, address)

    def GetConnectionRemoteAet(self) -> str:
        return self._values[0]

    def GetConnectionCalledAet(self) -> str:
        return self._values[1]

    def GetConnectionRemoteIp(self) -> str:
        return self._values[2]


class FakeOutput:
    """orthanc.RestOutput: records what the REST callback hands to Orthanc."""

    def __init__(self, api: int = 4) -> None:
        self.api = api
        self.status = 0
        self.body = b""
        self.content_type = ""
        self.headers: dict[str, str] = {}
        self.location = ""
        self.allowed = ""

    def AnswerBuffer(self, body: bytes, content_type: str) -> None:
        self.status, self.body, self.content_type = 200, body, content_type

    def SetHttpHeader(self, key: str, value: str) -> None:
        self.headers[key] = value

    def SendHttpStatus(self, status: int, body: str | bytes, *size: int) -> None:
        """orthanc-python 4.0 takes text plus its size in bytes; 4.2 and later take the body alone
        (bytes or text). Either raises TypeError, before sending, when called the other way."""
        if self.api < 5:
            if len(size) != 1 or not isinstance(body, str):
                raise TypeError("SendHttpStatus() takes 3 arguments (text and its size) in orthanc-python 4.0")
            assert len(body.encode("utf-8")) == size[0]
        elif size:
            raise TypeError("SendHttpStatus() takes 2 arguments in orthanc-python 4.2 and later")
        self.status, self.body = status, body.encode("utf-8") if isinstance(body, str) else body

    def Redirect(self, location: str) -> None:
        self.status, self.location = 301, location

    def SendMethodNotAllowed(self, allowed: str) -> None:
        self.status, self.allowed = 405, allowed

    def json(self) -> Any:
        return json.loads(self.body)


class FakeOrthanc:
    """The part of the orthanc-python module the plugin uses."""

    ChangeType = ChangeType
    ResourceType = ResourceType

    def __init__(
        self,
        configuration: dict[str, Any],
        arguments: tuple[str, ...] = ("orthanc.json",),
        api: int = 4,
        missing: frozenset[str] = frozenset(),
    ) -> None:
        self.configuration = configuration
        #: What GetConfigurationPath says: the file (or folder) Orthanc read its configuration from.
        self.configuration_path = arguments[-1] if arguments else ""
        self.arguments = arguments
        self.api = api
        #: Names this module lacks: RegisterWorklistCallback2 before orthanc-python 7, and any given.
        self.missing = missing | ({"RegisterWorklistCallback2"} if api < 7 else set())
        self.logs: list[tuple[str, str]] = []
        self.callbacks: list[Any] = []
        self.change_callbacks: list[Any] = []
        self.rest_callbacks: list[tuple[str, Any]] = []
        self.explorer: list[str] = []
        self.root_uri = ""
        self.rest_api_calls: list[str] = []
        #: What RestApiGet answers per URI (as JSON), beside /system; a missing one raises as Orthanc does.
        self.resources: dict[str, Any] = {"/system": {"Name": "vetmwl", "Version": "1.10.1"}}

    def __getattribute__(self, name: str) -> Any:
        if name[0].isupper() and name in object.__getattribute__(self, "missing"):
            raise AttributeError(name)  # as a module that lacks it
        return object.__getattribute__(self, name)

    # -- configuration, command line and log ---------------------------------------------------
    def GetConfiguration(self) -> str:
        return json.dumps(self.configuration)

    def GetConfigurationPath(self) -> str:
        return self.configuration_path

    def GetCommandLineArgumentsCount(self) -> int:
        return len(self.arguments)

    def GetCommandLineArgument(self, n: int) -> str:
        return self.arguments[n]

    def LogInfo(self, text: str) -> None:
        self.logs.append(("INFO", text))

    def LogWarning(self, text: str) -> None:
        self.logs.append(("WARNING", text))

    def LogError(self, text: str) -> None:
        self.logs.append(("ERROR", text))

    def lines(self, level: str) -> list[str]:
        return [text for lvl, text in self.logs if lvl == level]

    # -- callbacks -----------------------------------------------------------------------------
    def RegisterWorklistCallback(self, callback: Any) -> None:
        self.callbacks.append(("ae-titles", callback))

    def RegisterWorklistCallback2(self, callback: Any) -> None:
        self.callbacks.append(("connection", callback))

    def RegisterOnChangeCallback(self, callback: Any) -> None:
        self.change_callbacks.append(callback)

    def RegisterRestCallback(self, uri: str, callback: Any) -> None:
        self.rest_callbacks.append((uri, callback))

    def ExtendOrthancExplorer(self, javascript: str) -> None:
        self.explorer.append(javascript)

    def SetRootUri(self, uri: str) -> None:
        self.root_uri = uri

    def RestApiGet(self, uri: str) -> bytes:
        self.rest_api_calls.append(uri)
        if uri not in self.resources:
            raise ValueError(f"Unknown resource: {uri}")  # orthanc-python raises on a 404
        return json.dumps(self.resources[uri]).encode()

    # -- what Orthanc does ---------------------------------------------------------------------
    def find(
        self,
        raw: bytes,
        calling_aet: str = "DX_ROOM1",
        called_aet: str = "VETMWL",
        address: str = "192.0.2.10",
        answers: FakeAnswers | None = None,
    ) -> FakeAnswers:
        """One C-FIND through the registered worklist callback, with the arguments its API gives."""
        assert len(self.callbacks) == 1, "the plugin registers exactly one worklist callback"
        kind, callback = self.callbacks[0]
        answers = answers if answers is not None else FakeAnswers()
        if kind == "connection":
            callback(answers, FakeQuery(raw), FakeConnection(calling_aet, called_aet, address))
        else:
            callback(answers, FakeQuery(raw), calling_aet, called_aet)
        return answers

    def get(self, uri: str, method: str = "GET", **args: str) -> FakeOutput:
        """One HTTP request, routed the way Orthanc does: the first registered regex that matches."""
        output = FakeOutput(self.api)
        for pattern, callback in self.rest_callbacks:
            match = re.fullmatch(pattern, uri)
            if match:
                callback(output, uri, method=method, groups=match.groups(), get=args, headers={})
                return output
        raise AssertionError(f"no REST callback for {uri}")

    def stop(self) -> None:
        """Orthanc stopping: every change callback gets ORTHANC_STOPPED."""
        self.change(ChangeType.ORTHANC_STOPPED, ResourceType.NONE, "")

    def change(self, change_type: int, level: int, resource: str) -> None:
        """A change event, as Orthanc hands it to every change callback."""
        for callback in self.change_callbacks:
            callback(change_type, level, resource)
