"""Real servers for the integration tests: Orthanc with the plugin, and PostgreSQL and MariaDB of their own.

Each is a context manager (``with PostgresServer() as server:`` initialises, starts and at the end
destroys it; ``with OrthancServer(...) as orthanc:`` starts and stops it), so fixtures and tests
need no try/finally of their own.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from vetmwl.tools import importer

from .runtimes import HOST, REPO, Runtime, venv_site_packages

PYTHON_PLUGIN = HOST.python_plugin
SITE_PACKAGES = Path(venv_site_packages(REPO / ".venv"))


def plugin_settings(connection: str, dialect: str, **extra: object) -> dict:
    """The ``SqlWorklist`` section for a database; ``extra`` adds or overrides settings."""
    return {"ConnectionString": connection, "Dialect": dialect, "QueryTimeout": 5, **extra}


def sqlite_connection_string(path: Path) -> str:
    return f"Driver=SQLite3;Database={path}"


#: The password of :func:`unreachable_postgres`: tests check it is never shown.
UNREACHABLE_PASSWORD = "s3cret-Pw"


def unreachable_postgres() -> str:
    """A PostgreSQL connection string for a port nobody listens on: a database that is down."""
    return (
        f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={free_port()};Database=worklist;"
        f"Uid=vet;Pwd={UNREACHABLE_PASSWORD};"
    )


def import_items(dialect: str, connection: str, items_file: Path, *options: str) -> None:
    """Worklist items into a database with the importer, as a clinic would load them."""
    status = importer.main(["--dialect", dialect, "--connection", connection, *options, str(items_file)])
    if status != 0:
        raise RuntimeError(f"the importer refused {items_file} for {dialect} (status {status})")


#: Ports handed out in this process: never twice, though a server that stopped has freed its own.
_GIVEN: set[int] = set()


def _ephemeral_low() -> int:
    """Where the kernel's ephemeral ports (those of outgoing connections) begin."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now, below the ephemeral range: a port
    the kernel handed out for bind(0) may be given to a client's outgoing connection (thousands in
    the fuzz tests) before the server the test starts binds it; one under 32768 never is."""
    rng = random.SystemRandom()
    high = min(_ephemeral_low(), 65536) - 1
    for _ in range(500):
        port = rng.randint(20000, high)
        if port in _GIVEN:
            continue
        with contextlib.closing(socket.socket()) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    raise RuntimeError("no free TCP port between 20000 and the ephemeral range")


class OrthancServer:
    """Orthanc with our plugin, on free ports, logging verbosely to a file.

    ``runtime`` says which Orthanc: the host's (default) or a Debian root's (see support.runtimes).
    ``environment`` adds variables to the plain environment Orthanc gets (PATH, PYTHONPATH, TCP_NODELAY).
    """

    def __init__(
        self,
        workdir: Path,
        plugin_settings: dict[str, Any] | None,
        runtime: Runtime = HOST,
        environment: dict[str, str] | None = None,
        verbose: bool = True,
        **overrides: Any,
    ) -> None:
        self.runtime = runtime
        self.verbose = verbose
        self.environment = environment or {}
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.aet = "VETMWL"
        config: dict[str, Any] = {
            "Name": "vetmwl-test",
            "DicomAet": self.aet,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "StorageDirectory": str(workdir / "storage"),
            "IndexDirectory": str(workdir / "storage"),
            "RemoteAccessAllowed": False,
            "DefaultEncoding": "Utf8",
            "DicomAlwaysAllowFindWorklist": True,
            "Plugins": [runtime.python_plugin],
            # orthanc-python 4.0 reads the first, newer ones the second.
            "PythonScript": str(REPO / "plugin" / "sql_worklist_plugin.py"),
            "Python": {"Path": str(REPO / "plugin" / "sql_worklist_plugin.py")},
        }
        if plugin_settings is not None:
            config["SqlWorklist"] = plugin_settings
        config.update(overrides)
        self.aet = config["DicomAet"]
        self.config_path = workdir / "orthanc.json"
        self.config_path.write_text(json.dumps(config, indent=1))
        self.log_path = workdir / "orthanc.log"
        self.process: subprocess.Popen[bytes] | None = None
        #: Orthanc's exit status once stopped (0 after a clean SIGTERM shutdown).
        self.exit_status: int | None = None

    def start(self, timeout: float = 60) -> OrthancServer:
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
            "PYTHONPATH": self.runtime.site_packages(),
            "TCP_NODELAY": "1",
            **self.environment,
        }
        argv = ["Orthanc", *(["--verbose"] if self.verbose else []), str(self.config_path)]
        command = self.runtime.command(argv, env, [self.workdir])
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/system", timeout=1):
                    return self
            except urllib.error.HTTPError as error:
                if error.code == 401:  # up, and asking for credentials (AuthenticationEnabled)
                    return self
                time.sleep(0.1)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Orthanc did not start within {timeout}s:\n{self.log()[-3000:]}")

    def __enter__(self) -> OrthancServer:
        return self if self.alive() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rss_kib(self) -> int:
        """Orthanc's resident memory (the process started is Orthanc itself, on every runtime)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int | None:
        """SIGTERM, as ``systemctl stop`` or ``docker stop`` sends; Orthanc's exit status."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.exit_status = self.process.returncode if self.process else None
        return self.exit_status


class DatabaseServer:
    """What PostgresServer and MariaDBServer share: the context manager and a database of items."""

    dialect = ""

    def init(self) -> DatabaseServer:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def destroy(self) -> None:
        raise NotImplementedError

    def create_database(self, name: str) -> None:
        raise NotImplementedError

    def connection_string(self, database: str) -> str:
        raise NotImplementedError

    def __enter__(self) -> DatabaseServer:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def with_items(self, items_file: Path, database: str = "worklist") -> str:
        """A new database with the reference schema holding the items of ``items_file``; its connection string."""
        self.create_database(database)
        connection = self.connection_string(database)
        import_items(self.dialect, connection, items_file, "--create-schema")
        return connection


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: run scripts/setup.sh")
    return found[-1]


class PostgresServer(DatabaseServer):
    """A PostgreSQL cluster of the tests' own, in a temporary folder, on 127.0.0.1 and a free port.

    As root (CI, containers), initdb and postgres refuse to run, so they run as the postgres user.
    """

    dialect = "postgresql"

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vetmwl-pg-"))
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, cwd=self.dir)

    def init(self) -> PostgresServer:
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        return self

    def start(self) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def psql_command(self, database: str, user: str = "postgres") -> list[str]:
        """psql's argv for ``database`` as ``user``, stopping at the first error (add ``-c`` or stdin)."""
        return [
            _pg_bin("psql"),
            *("-h", "127.0.0.1", "-p", str(self.port)),
            *("-U", user, "-d", database),
            *("-v", "ON_ERROR_STOP=1", "-q"),
        ]

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as postgres; the rows as unaligned text."""
        done = subprocess.run(
            [*self.psql_command(database), "-At", "-c", sql], check=True, capture_output=True, text=True
        )
        return done.stdout

    def create_database(self, name: str) -> None:
        self.psql(f"CREATE DATABASE {name}")

    def connection_string(self, database: str, user: str = "postgres", password: str = "") -> str:
        return (
            f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={self.port};Database={database};"
            f"Uid={user};Pwd={password};"
        )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class MariaDBServer(DatabaseServer):
    """A MariaDB server of the tests' own: temporary data folder and socket, 127.0.0.1, a free port.

    Like PostgreSQL it refuses to run as root, so as root it runs as the mysql user. ``--no-defaults``
    keeps Debian's /etc/mysql (socket in /run/mysqld, port 3306) out of it, so it never meets a
    system MariaDB; it also leaves the server's character set at latin1, so the reference schema
    has to bring utf8mb4 itself.
    """

    dialect = "mariadb"

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vetmwl-mariadb-"))
        self.data = self.dir / "data"
        self.socket = self.dir / "mysqld.sock"
        self.log_path = self.dir / "server.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "mysql", "mysql")
        self.process: subprocess.Popen[bytes] | None = None

    def _user(self) -> list[str]:
        return ["--user=mysql"] if self.as_root else []

    def init(self) -> MariaDBServer:
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                *self._user(),
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            cwd=self.dir,
        )
        return self

    def start(self, timeout: float = 30) -> None:
        self.process = subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                *self._user(),
                f"--datadir={self.data}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.dir / 'mysqld.pid'}",
                f"--log-error={self.log_path}",
                "--innodb-flush-log-at-trx-commit=0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.dir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            if self._client("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"MariaDB did not start within {timeout}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # a clean shutdown, as systemctl stop would do
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _client(self, sql: str, database: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                "--default-character-set=utf8mb4",
                f"--socket={self.socket}",
                "--user=root",
                "--batch",
                "--skip-column-names",
                "-e",
                sql,
                *([database] if database else []),
            ],
            check=check,
            capture_output=True,
            text=True,
        )

    def sql(self, sql: str, database: str = "") -> str:
        """Run ``sql`` as root through the server's socket; the rows as tab-separated text."""
        done = self._client(sql, database, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"mariadb client failed on {sql!r}: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str) -> None:
        self.sql(f"CREATE DATABASE {name}")

    def connection_string(self, database: str, user: str = "root", password: str = "") -> str:
        return (
            f"Driver={{MariaDB Unicode}};Server=127.0.0.1;Port={self.port};Database={database};"
            f"Uid={user};Pwd={password};"
        )

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
