"""Three worklist SCPs serving the same items, so our answers can be compared with two references.

- ``ours``: Orthanc with our plugin, reading a SQLite database filled by ``vetmwl.tools.importer``;
- ``orthanc``: Orthanc with tests/support/orthanc_reference_plugin.py, which answers exactly the
  items Orthanc's own matcher (``WorklistIsMatch``) accepts;
- ``dcmtk``: dcmtk's ``wlmscpfs`` serving the items as ``.wl`` files.

All are queried the same way (pynetdicom, one association per SCP, one query at a time) and
reduced to the set of Scheduled Procedure Step IDs they answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import ModalityWorklistInformationFind

from support.servers import REPO, OrthancServer, free_port
from support.wlitems import write_wl_folder
from vetmwl.tools import importer

SIDES = ("ours", "orthanc", "dcmtk")
REFERENCE_PLUGIN = REPO / "tests" / "support" / "orthanc_reference_plugin.py"
#: Root keys every conformance identifier requests, to tell apart answers whose step item is empty.
IDENTITY_KEYS = ("PatientID", "AccessionNumber", "RequestedProcedureID")
SPS = "ScheduledProcedureStepSequence"


def _import(connection: str, items_file: Path, *extra: str) -> None:
    status = importer.main(["--dialect", "sqlite", "--connection", connection, *extra, str(items_file)])
    if status != 0:
        raise RuntimeError(f"the importer refused {items_file} (status {status})")


class WlmscpfsServer:
    """dcmtk's wlmscpfs on a free port, serving ``<root>/<aet>/*.wl``.

    wlmscpfs has no option to choose its listening address, so it listens on every interface of
    this machine for the length of the test session; the tests only ever connect to 127.0.0.1.
    It runs in single-process mode, so stopping this one process stops it all.
    """

    def __init__(self, root: Path, aet: str = "WLMSCPFS") -> None:
        self.root = root
        self.aet = aet
        self.folder = root / aet
        self.port = free_port()
        self.log_path = root / "wlmscpfs.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15) -> WlmscpfsServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # -dfr: serve items lacking Type 1 return keys (station, UID) too, as the SQL side does;
        # -csk: answer in the files' character set (UTF-8) instead of none.
        command = ["wlmscpfs", "--single-process", "-dfp", str(self.root), "-dfr", "-csk", str(self.port)]
        # TCP_NODELAY: dcmtk, like Orthanc, otherwise waits for Nagle's algorithm on every answer.
        env = dict(os.environ, TCP_NODELAY="1")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.root, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"wlmscpfs exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"wlmscpfs did not listen within {timeout}s:\n{self.log()[-3000:]}")

    def load(self, items: list[dict[str, Any]]) -> None:
        write_wl_folder(items, self.folder)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ReferenceOrthanc(OrthancServer):
    """Orthanc whose worklist answers come from its own matcher, over items it can be handed anew."""

    def __init__(self, workdir: Path, items_file: Path) -> None:
        super().__init__(
            workdir,
            None,
            PythonScript=str(REFERENCE_PLUGIN),
            ReferenceWorklist={"ItemsFile": str(items_file)},
            Name="vetmwl-reference",
        )
        # The reference plugin imports support.wlitems: the tests folder joins the venv on its path.
        self.environment["PYTHONPATH"] = f"{self.runtime.site_packages()}:{REPO / 'tests'}"
        self.aet = "VETMWL"

    def load(self, items: list[dict[str, Any]]) -> None:
        body = json.dumps(items).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}/reference/items", data=body)
        with urllib.request.urlopen(request, timeout=30) as response:
            loaded = json.load(response)["items"]
        if loaded != len(items):
            raise RuntimeError(f"the reference Orthanc loaded {loaded} of {len(items)} items")


class Client:
    """pynetdicom on one association per SCP, reused for every query of the session, one at a time.

    Sequential use avoids pynetdicom's known loss of a first pending answer under parallel load.
    TCP_NODELAY on the client's socket saves the ~40 ms that Nagle's algorithm and delayed ACKs
    would add to each C-FIND, which keeps the whole table fast.
    """

    def __init__(self, port: int, aec: str, aet: str = "CONFORMANCE") -> None:
        self.port, self.aec, self.aet = port, aec, aet
        self.assoc: Association | None = None

    def _association(self) -> Association:
        if self.assoc is None or not self.assoc.is_established:
            ae = AE(ae_title=self.aet)
            ae.add_requested_context(ModalityWorklistInformationFind)
            ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
            assoc = ae.associate("127.0.0.1", self.port, ae_title=self.aec)
            if not assoc.is_established:
                raise RuntimeError(f"no association with {self.aec} on port {self.port}")
            assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]
            self.assoc = assoc
        return self.assoc

    def find(self, identifier: Dataset) -> tuple[list[Dataset], int | None]:
        """The pending answers' identifiers and the final status of one C-FIND."""
        answers, final = [], None
        for status, answer in self._association().send_c_find(identifier, ModalityWorklistInformationFind):
            if status is None or "Status" not in status:
                self.close()
                raise RuntimeError(f"no C-FIND response from {self.aec}: aborted, rejected or timed out")
            final = int(status.Status)
            if final in (0xFF00, 0xFF01) and answer is not None:
                answers.append(answer)
        return answers, final

    def close(self) -> None:
        if self.assoc is not None and self.assoc.is_established:
            self.assoc.release()
        self.assoc = None


@dataclass
class Outcome:
    """What one SCP answered to one query, reduced to what the comparison needs."""

    ids: frozenset[str]
    #: Identity (IDENTITY_KEYS values) of each answer whose step item came back empty.
    emptied: Counter[tuple[str, ...]] = field(default_factory=Counter)
    status: int | None = 0
    duplicates: tuple[str, ...] = ()


def outcome(answers: list[Dataset], status: int | None) -> Outcome:
    ids: list[str] = []
    emptied: Counter[tuple[str, ...]] = Counter()
    for answer in answers:
        items = answer.get(SPS) or []
        step_id = str(items[0].get("ScheduledProcedureStepID", "") or "").strip() if items else ""
        if step_id:
            ids.append(step_id)
        else:
            emptied[tuple(str(answer.get(k, "") or "").strip() for k in IDENTITY_KEYS)] += 1
    duplicates = tuple(sorted(i for i, n in Counter(ids).items() if n > 1))
    return Outcome(frozenset(ids), emptied, status, duplicates)


class Servers:
    """The three SCPs, started once, fed the same items; :meth:`query` asks all three."""

    def __init__(self, workdir: Path, items: list[dict[str, Any]], with_dcmtk: bool = True) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.items_file = workdir / "items.json"
        self.items_file.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        self.connection = f"Driver=SQLite3;Database={workdir / 'ours.sqlite'}"
        _import(self.connection, self.items_file, "--create-schema", "--replace")
        settings = {"ConnectionString": self.connection, "Dialect": "sqlite", "QueryTimeout": 5, "LimitAnswers": 1000}
        self.ours = OrthancServer(workdir / "ours", settings)
        self.orthanc = ReferenceOrthanc(workdir / "reference", self.items_file)
        self.dcmtk: WlmscpfsServer | None = WlmscpfsServer(workdir / "wlmscpfs") if with_dcmtk else None
        if self.dcmtk:
            self.dcmtk.load(items)
        self.clients: dict[str, Client] = {}

    def start(self) -> Servers:
        try:
            self.ours.start()
            self.orthanc.start()
            if self.dcmtk:
                self.dcmtk.start()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        for server in (self.ours, self.orthanc, self.dcmtk):
            if server is not None:
                server.stop()

    def load(self, items: list[dict[str, Any]]) -> None:
        """Replace the items everywhere: SQL through the importer, the reference by REST, .wl files."""
        self.items_file.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        _import(self.connection, self.items_file, "--replace")
        self.orthanc.load(items)
        if self.dcmtk:
            self.dcmtk.load(items)

    def ask(self, side: str, identifier: Dataset) -> Outcome:
        """One C-FIND to one SCP; a failure status gives no IDs and that status."""
        return outcome(*self.answers(side, identifier))

    def answers(self, side: str, identifier: Dataset) -> tuple[list[Dataset], int | None]:
        """One C-FIND to one SCP: the answers' identifiers, whole, and the final status."""
        if side not in self.clients:
            if side == "dcmtk":
                assert self.dcmtk is not None
                self.clients[side] = Client(self.dcmtk.port, self.dcmtk.aet)
            else:
                server = self.ours if side == "ours" else self.orthanc
                self.clients[side] = Client(server.dicom_port, server.aet)
        return self.clients[side].find(identifier)

    def query(self, identifier: Dataset, sides: tuple[str, ...] = SIDES) -> dict[str, Outcome]:
        return {side: self.ask(side, identifier) for side in sides}
