"""One-shot setup of the demo SQL Server for docker-compose.yml, run in the plugin's own image.

It waits for the server, then creates the database, the reference table (sql/schema/mssql.sql)
filled with the demo schedule from today on, the view the plugin reads, and, with
sql/mssql/readonly-login.sql, a login that may only read that view. Running it again (every
``docker compose up``) keeps what exists and replaces the schedule with one starting today.

Settings come from the environment: VETMWL_ADMIN_CONNECTION (an ODBC connection string to the
server as sa, without a database), VETMWL_DATABASE, VETMWL_VIEW, VETMWL_READER_LOGIN,
VETMWL_READER_PASSWORD (or VETMWL_READER_PASSWORD_FILE, a Docker secret holding it) and
VETMWL_WAIT_SECONDS (default 180).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from vetmwl.config import IDENTIFIER
from vetmwl.tools import demo, importer

REPO = Path(__file__).resolve().parents[1]
LOGIN_SCRIPT = REPO / "sql" / "mssql" / "readonly-login.sql"
TABLE = "dbo.worklist"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_VARIABLE = re.compile(r"\$\((\w+)\)")
_GO = re.compile(r"^\s*GO\s*$", re.IGNORECASE | re.MULTILINE)


def sqlcmd_batches(script: str, variables: dict[str, str]) -> list[str]:
    """The batches sqlcmd would send: ``$(Name)`` replaced, the text split on ``GO`` lines.

    A variable the script uses but ``variables`` lacks is an error, as it is for sqlcmd.
    """

    def value(match: re.Match[str]) -> str:
        if match.group(1) not in variables:
            raise KeyError(f"the script needs the variable {match.group(1)}")
        return variables[match.group(1)]

    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    text = _VARIABLE.sub(value, "\n".join(lines))
    return [batch.strip() for batch in _GO.split(text) if batch.strip()]


def login_variables(database: str, view: str, login: str, password: str) -> dict[str, str]:
    """The variables of readonly-login.sql, checked: names only, and a password that stays a string."""
    if not _NAME.fullmatch(database) or not _NAME.fullmatch(login):
        raise ValueError("the database and login names must be plain names (letters, digits, _)")
    if not IDENTIFIER.fullmatch(view):
        raise ValueError(f"{view!r} is not a view name such as dbo.vet_worklist")
    if "'" in password or not password:
        raise ValueError("the reader password must be non-empty and must not contain a single quote")
    return {"Database": database, "View": view, "Login": login, "Password": password}


def create_database_sql(database: str) -> str:
    return f"IF DB_ID(N'{database}') IS NULL CREATE DATABASE [{database}]"


def view_sql(view: str) -> str:
    """The demo's view: the reference table as it is, named as a site's own view would be."""
    columns = ",\n    ".join(importer.REFERENCE_COLUMNS)
    return f"CREATE OR ALTER VIEW {view} AS\nSELECT\n    {columns}\nFROM {TABLE}"


def connect(connection_string: str, wait_seconds: float) -> Any:
    """Connect, retrying while the server starts (SQL Server takes a while on first start)."""
    import pyodbc

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return pyodbc.connect(connection_string, autocommit=True, timeout=5)
        except pyodbc.Error as exc:
            if time.monotonic() > deadline:
                raise
            print(f"init: waiting for SQL Server ({exc.args[-1]})", flush=True)
            time.sleep(3)


def reader_password(environ: Mapping[str, str]) -> str:
    """The reader login's password: from the file VETMWL_READER_PASSWORD_FILE names (a Docker
    secret, as Orthanc's PasswordFile reads it: surrounding white space dropped), else VETMWL_READER_PASSWORD."""
    path = environ.get("VETMWL_READER_PASSWORD_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return environ.get("VETMWL_READER_PASSWORD", "")


def main() -> int:
    admin = os.environ["VETMWL_ADMIN_CONNECTION"]
    database = os.environ.get("VETMWL_DATABASE", "vetpms")
    view = os.environ.get("VETMWL_VIEW", "dbo.vet_worklist")
    login = os.environ.get("VETMWL_READER_LOGIN", "vetmwl_reader")
    variables = login_variables(database, view, login, reader_password(os.environ))
    wait = float(os.environ.get("VETMWL_WAIT_SECONDS", "180"))

    server = connect(admin, wait)
    server.execute(create_database_sql(database))
    server.close()

    connection = connect(f"{admin.rstrip(';')};Database={database}", wait)
    connection.autocommit = False
    cursor = connection.cursor()
    if cursor.execute("SELECT OBJECT_ID(N'dbo.worklist')").fetchone()[0] is None:
        for statement in importer.schema_statements("mssql"):
            cursor.execute(statement)
        connection.commit()
        print(f"init: created {TABLE}", flush=True)
    rows, problems = importer.validate(demo.schedule(date.today()))
    if problems:
        print(f"init: the demo schedule is invalid: {problems[0]}", file=sys.stderr)
        return 1
    importer.load(connection, "mssql", TABLE, rows, replace=True)
    print(f"init: loaded {len(rows)} demo worklist items starting {date.today()}", flush=True)

    connection.autocommit = True
    cursor.execute(view_sql(view))
    if cursor.execute("SELECT SUSER_ID(?)", login).fetchone()[0] is None:
        for batch in sqlcmd_batches(LOGIN_SCRIPT.read_text(encoding="utf-8"), variables):
            cursor.execute(batch)
        print(f"init: created login {login}, which may only read {view}", flush=True)
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
