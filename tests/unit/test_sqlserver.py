"""SQL Server as clinics run it, as far as a machine without SQL Server can take it.

Every FreeTDS connection string of docs/sqlserver.md (and its freetds.conf entry) is given to Debian's
FreeTDS, which must accept it and go on to the network: to a closed local port, or, for a named
instance, first to a stand-in SQL Server Browser on UDP 1434 that answers with the instance's port,
where a listener sees FreeTDS arrive. The plugin's sentences for what the drivers and SQL Server say
are checked on the real FreeTDS failures, and on the documented texts of those a server would send.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pyodbc
import pytest

from support.runtimes import REPO
from support.servers import free_port
from vetmwl.db import Database, explain
from vetmwl.errors import DatabaseError
from vetmwl.tools import check

DOC = REPO / "docs" / "sqlserver.md"
REACHED_THE_NETWORK = "Adaptive Server is unavailable or does not exist"


def documented(kind: str) -> list[str]:
    """The fenced blocks of one kind (text, ini) of docs/sqlserver.md, indented ones included."""
    blocks = re.findall(rf"^( *)```{kind}\n(.*?)^\1```", DOC.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)
    return [re.sub(rf"(?m)^{indent}", "", body).strip() for indent, body in blocks]


def freetds_strings() -> list[str]:
    return [block for block in documented("text") if block.startswith("Driver=FreeTDS")]


class Browser:
    """A stand-in SQL Server Browser on UDP 1434 (SSRP): it names the TCP port of the instances it
    knows, as the real service does, and stays silent for the others. A TCP listener on that port
    records who arrives."""

    def __init__(self, instances: tuple[str, ...] = ("IMPROMED1",)) -> None:
        self.instances = instances
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 1434))
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen()
        self.port = self.tcp.getsockname()[1]
        self.asked: list[str] = []
        self.arrived = 0
        self.stopping = threading.Event()
        for sock in (self.udp, self.tcp):
            sock.settimeout(0.1)  # so that the threads see ``stopping`` and the ports are freed at close
        self.threads = [threading.Thread(target=self._answer), threading.Thread(target=self._accept)]
        for thread in self.threads:
            thread.start()

    def _answer(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                data, sender = self.udp.recvfrom(4096)
                name = data[1:].rstrip(b"\0").decode("ascii", "replace")
                self.asked.append(name)
                if data[:1] == b"\x04" and name.upper() in self.instances:  # CLNT_UCAST_INST
                    body = f"ServerName;DBHOST;InstanceName;{name};IsClustered;No;Version;16.0.1000.6;tcp;{self.port};;"
                    self.udp.sendto(b"\x05" + len(body).to_bytes(2, "little") + body.encode(), sender)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = self.tcp.accept()
                self.arrived += 1
                connection.close()  # not a SQL Server: it hangs up

    def close(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    try:
        stand_in = Browser()
    except OSError as exc:
        pytest.skip(f"UDP port 1434 (the SQL Server Browser's) cannot be taken here: {exc}")
    yield stand_in
    stand_in.close()


def local(connection: str) -> str:
    """A documented string pointed at this machine: the host 127.0.0.1, a fixed port closed."""
    connection = connection.replace("PWD=...", "PWD=not-the-password")
    connection = re.sub(r"Server=dbhost;Port=\d+", f"Server=127.0.0.1;Port={free_port()}", connection)
    return connection.replace("Server=dbhost\\", "Server=127.0.0.1\\")


def connect_error(connection: str) -> str:
    with pytest.raises(pyodbc.Error) as failure:
        pyodbc.connect(connection, timeout=3)
    return str(failure.value)


def test_the_guide_documents_each_way_clinics_connect() -> None:
    strings = freetds_strings()
    assert len(strings) == 5
    assert any("Server=dbhost\\IMPROMED1;" in s and "Port=" not in s for s in strings)  # the Browser
    assert any(re.search(r"Server=dbhost;Port=(?!1433)\d+", s) for s in strings)  # an instance's fixed port
    assert any("UID=CLINIC\\svc-orthanc;" in s and "UseNTLMv2=yes" in s for s in strings)  # Windows, NTLM
    assert any(s.startswith("Driver=FreeTDS;Servername=impromed;") for s in strings)  # freetds.conf
    assert all("Encryption=require" in s for s in strings if "Servername=" not in s)


def test_freetds_takes_each_documented_string_to_the_network(browser: Browser) -> None:
    for documented_string in freetds_strings():
        if "Servername=" in documented_string:
            continue  # the freetds.conf entry: the next test
        connection = local(documented_string)
        arrived = browser.arrived
        said = connect_error(connection)
        if "\\IMPROMED1;" in connection:
            # Asked the Browser for the instance, and came to the port it named (which then hangs up).
            assert browser.asked[-1] == "IMPROMED1" and browser.arrived == arrived + 1, connection
        else:
            assert REACHED_THE_NETWORK in said, connection
        # A value FreeTDS does not know fails before the network, so the checks above can fail.
        bad = connect_error(connection.replace("Encryption=require", "Encryption=requir"))
        assert REACHED_THE_NETWORK not in bad and browser.arrived == arrived + ("IMPROMED1" in connection)


def test_the_documented_freetds_conf_entry_is_read(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (entry,) = documented("ini")
    assert "ca file = " in entry and "check certificate hostname = yes" in entry
    conf = tmp_path / "freetds.conf"
    conf.write_text(entry.replace("dbhost.clinic.example", "127.0.0.1") + "\n")
    monkeypatch.setenv("FREETDSCONF", str(conf))
    (connection,) = [s for s in freetds_strings() if "Servername=" in s]
    connect_error(local(connection))
    assert browser.asked[-1] == "IMPROMED1" and browser.arrived == 1  # the entry's host and instance


def database(connection: str) -> Database:
    return Database(connection, query_timeout=1, connect_timeout=1)


def test_the_plugin_says_what_to_check_when_sql_server_cannot_be_reached() -> None:
    connection = local(freetds_strings()[0])
    with pytest.raises(DatabaseError) as failure:
        database(connection).fetch("SELECT 1")
    message = str(failure.value)
    assert message.startswith("SQL Server cannot be reached: check the host name, the port")
    assert "Driver said: [08S01]" in message and "not-the-password" not in message
    assert failure.value.connection and "named instance" not in message


def test_a_wrong_instance_name_is_named_as_the_likely_cause(browser: Browser) -> None:
    """The Browser never answers for an instance it does not know; FreeTDS asks for 16 s, so the
    plugin's deadline speaks first, and names the instance."""
    (named,) = [s for s in freetds_strings() if "\\IMPROMED1;" in s and "UID=vetmwl_reader" in s]
    connection = local(named).replace("\\IMPROMED1;", "\\IMPROMED2;")
    with pytest.raises(DatabaseError) as failure:
        database(connection).fetch("SELECT 1")
    assert failure.value.timeout and browser.asked and set(browser.asked) == {"IMPROMED2"}
    assert "check the instance's name and that the SQL Server Browser answers on UDP 1434" in str(failure.value)


def test_an_unknown_host_is_told_apart() -> None:
    connection = local(freetds_strings()[0]).replace("Server=127.0.0.1", "Server=dbhost.invalid")
    message = str(explain(pyodbc_error(connection), connection))
    assert "check that the server's name resolves here (getent hosts NAME)" in message


def pyodbc_error(connection: str) -> pyodbc.Error:
    try:
        pyodbc.connect(connection, timeout=3)
    except pyodbc.Error as exc:
        return exc
    raise AssertionError("connected")


class DriverError(Exception):
    """A pyodbc error as drivers raise it: (SQLSTATE, message)."""


#: What SQL Server and the drivers say, as their documentation and the FreeTDS and Microsoft drivers
#: print it, and words the plugin's sentence must hold.
SERVER_SAYS = [
    ("28000", "[28000] [FreeTDS][SQL Server]Login failed for user 'vetmwl_reader'. (18456)", "check UID and PWD"),
    (
        "28000",
        "[28000] [FreeTDS][SQL Server]Login failed. The login is from an untrusted domain and cannot be used with "
        "Integrated authentication. (18452)",
        "Windows login: give it as UID=DOMAIN\\user",
    ),
    (
        "42000",
        '[42000] [Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Cannot open database "Impromed" requested '
        "by the login. The login failed. (4060)",
        "check its name (ImproMed's is usually Impromed)",
    ),
    (
        "08001",
        "[08001] [Microsoft][ODBC Driver 18 for SQL Server]SSL Provider: [error:0A000086:SSL routines::certificate "
        "verify failed:self-signed certificate] (-1)",
        "TLS certificate is not trusted",
    ),
    (
        "08001",
        "[08001] [Microsoft][ODBC Driver 18 for SQL Server]SQL Server Network Interfaces: Error Locating "
        "Server/Instance Specified [xFFFFFFFF]. (-1)",
        "named instance was not found: check the instance name",
    ),
    (
        "HYT00",
        "[HYT00] [Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0)",
        "did not answer in time (SqlWorklist.ConnectTimeout)",
    ),
]


@pytest.mark.parametrize(("state", "said", "sentence"), SERVER_SAYS)
def test_what_sql_server_says_becomes_what_to_change(state: str, said: str, sentence: str) -> None:
    error = explain(DriverError(state, said), "Driver=FreeTDS;Server=dbhost;Port=1433;UID=u;PWD=secret")
    assert isinstance(error, DatabaseError) and error.connection  # never "the plugin's SQL was rejected"
    assert sentence in str(error) and said[len(state) + 3 :] in str(error)


def test_the_check_exits_2_with_the_sentence(tmp_path: Path) -> None:
    connection = local(freetds_strings()[0]).replace("\\", "\\\\")
    (tmp_path / "orthanc.json").write_text(
        '{"DefaultEncoding": "Utf8", "DicomAlwaysAllowFindWorklist": true, '
        f'"SqlWorklist": {{"ConnectionString": "{connection}", "Dialect": "mssql", "ConnectTimeout": 2}}}}'
    )
    out = StringIO()
    assert check.main([str(tmp_path / "orthanc.json"), "--sql-dir", str(REPO / "sql")], out=out) == check.UNREACHABLE
    assert out.getvalue().splitlines()[-1].startswith("cannot connect: SQL Server cannot be reached: check the host")
