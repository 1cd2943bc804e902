"""The performed steps of the state store, from a shell: list them, or void one so that its
scheduled steps return to the worklist (as ``POST /sql-worklist/steps/<uid>/void`` does).

It reads the same Orthanc configuration as the plugin (a file, or a folder of ``*.json`` files such
as Debian's ``/etc/orthanc``), so it finds the same store: the SQLite file in Orthanc's
``StorageDirectory`` (run it as Orthanc's user: the file is 0600), or ``StateStore``'s database.

Usage: ``python -m vetmwl.tools.steps --config /etc/orthanc list [--limit 20]``
       ``python -m vetmwl.tools.steps --config /etc/orthanc void UID [--reason TEXT] [--by NAME]``

Exit status: 0 done (or voided already), 1 no such performed step, 2 cannot run (the configuration,
the store, the arguments); a one-line reason on standard error, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from ..config import ConfigError, load_settings
from ..errors import DatabaseError, InternalError
from .configuration import read_configuration

DONE, NO_SUCH_STEP, CANNOT_RUN = 0, 1, 2
#: Orthanc's configuration files are JSON with // and /* */ comments.
REASON_MAX = 200


class CannotRun(Exception):
    """What keeps the tool from running, in one sentence."""


def _store(config: Path) -> Any:
    from ..performed import make_store

    try:
        configuration = read_configuration(config)
    except ConfigError as error:
        raise CannotRun(str(error)) from None
    try:
        settings = load_settings(configuration)
    except ConfigError as error:
        raise CannotRun(f"the configuration in {config} is not usable: {error}") from None
    store = make_store(settings, f"{configuration.get('Name', '')} (vetmwl.tools.steps)".strip())
    if store is None:
        raise CannotRun(
            "performed steps are not recorded with this configuration (SqlWorklist.Mpps.Enable and "
            "SqlWorklist.StudyArrival.Event are off): there is nothing to list or void"
        )
    if not settings.progress.connection_string and not settings.progress.sqlite_path.is_file():
        raise CannotRun(f"there is no state store at {settings.progress.sqlite_path} yet: Orthanc has not made it")
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vetmwl.tools.steps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="Orthanc's configuration file or folder")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the performed steps that changed last, newest first")
    listing.add_argument("--limit", type=int, default=20, help="how many, 1 to 1000 (default 20)")
    void = commands.add_parser("void", help="put a performed step back: its scheduled steps return to the worklist")
    void.add_argument("uid", help='the performed step: an MPPS SOP Instance UID, or "study:" and a Study Instance UID')
    void.add_argument("--reason", default="", help=f"why, kept in the step's history ({REASON_MAX} characters)")
    void.add_argument("--by", default="", help="who (default: the user running the tool)")
    args = parser.parse_args(argv)
    if args.command == "list" and not 1 <= args.limit <= 1000:
        parser.error(f"--limit must be from 1 to 1000, not {args.limit}")
    try:
        store = _store(args.config)
    except CannotRun as error:
        print(f"error: {error}", file=sys.stderr)
        return CANNOT_RUN
    try:
        return _list(store, args.limit) if args.command == "list" else _void(store, args.uid, args.reason, args.by)
    except CannotRun as error:
        print(f"error: {error}", file=sys.stderr)
        return CANNOT_RUN
    except (DatabaseError, InternalError) as error:
        print(f"error: the state store: {error}", file=sys.stderr)
        return CANNOT_RUN
    finally:
        store.database.close()


def _list(store: Any, limit: int) -> int:
    for step in store.recent(limit):
        keys = "; ".join(
            f"accession {r.accession_number or '-'} study {r.study_instance_uid or '-'}" for r in step.references
        )
        print(f"{step.uid}\t{step.kind}\t{step.status}\t{step.calling_aet or '-'}\t{keys or 'unscheduled'}")
    return DONE


def _void(store: Any, uid: str, reason: str, by: str) -> int:
    from ..progress import UnknownStep

    reason = " ".join(reason.split())
    if len(reason) > REASON_MAX:
        raise CannotRun(f"--reason is longer than {REASON_MAX} characters")
    who = " ".join(by.split()) or _user()
    detail = f"voided from the command line by {who}" + (f": {reason}" if reason else "")
    try:
        done = store.void(uid, who, detail)
    except UnknownStep:
        print(f"error: no performed step {uid!r} in the state store (list them with: list)", file=sys.stderr)
        return NO_SUCH_STEP
    print(f"{uid}: {'voided' if done else 'voided already'}; its scheduled steps are on the worklist again")
    return DONE


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "command line"


if __name__ == "__main__":
    sys.exit(main())
