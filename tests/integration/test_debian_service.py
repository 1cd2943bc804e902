"""Debian's Orthanc as a system service: deploy/debian/install.sh, checked for real.

install.sh runs into a scratch copy of this host's /etc/orthanc (Debian's own files). Then
systemd-analyze verifies Debian's orthanc.service with the installed drop-in, and Orthanc is
started the way that unit starts it (its ExecStart and User, the drop-in's environment, nothing
inherited) and answers a worklist query. systemd itself cannot be booted in the test environment.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from support.clients import broad_query, pynetdicom_find
from support.deploy import read_orthanc_json
from support.servers import REPO, SITE_PACKAGES, free_port
from vetmwl.config import _KEYS, SECTION
from vetmwl.tools import importer

ETC = Path("/etc/orthanc")
UNIT = Path("/lib/systemd/system/orthanc.service")
INSTALL = REPO / "deploy" / "debian" / "install.sh"
DROP_IN = Path("orthanc.service.d") / "vetmwl.conf"

pytestmark = [
    pytest.mark.skipif(
        not (ETC / "orthanc.json").exists() or not UNIT.exists(),
        reason="Debian's orthanc package is not installed (scripts/setup.sh installs it)",
    ),
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="needs root, as install.sh does: it copies /etc/orthanc with its owners and runs Orthanc as orthanc",
    ),
]


@dataclass
class Installed:
    root: Path
    etc: Path
    prefix: Path
    unit_dir: Path
    output: str


def copy_etc(target: Path) -> None:
    """Debian's /etc/orthanc with its owners and modes (credentials.json is root:orthanc 0640)."""
    shutil.copytree(ETC, target)
    for path in [target, *target.iterdir()]:
        original = ETC / path.relative_to(target)
        stat = original.stat()
        os.chown(path, stat.st_uid, stat.st_gid)


def install(root: Path, *options: str) -> Installed:
    etc, prefix, unit_dir = root / "etc" / "orthanc", root / "opt" / "vetmwl", root / "systemd"
    if not etc.exists():
        etc.parent.mkdir(parents=True)
        copy_etc(etc)
    paths = ["--prefix", str(prefix), "--etc", str(etc), "--unit-dir", str(unit_dir)]
    done = subprocess.run(["bash", str(INSTALL), "--no-venv", *paths, *options], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    venv = prefix / ".venv"
    if not venv.exists():
        venv.symlink_to(REPO / ".venv")  # instead of building one from PyPI, the tests' own
    return Installed(root, etc, prefix, unit_dir, done.stdout)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="vetmwl-debian-"))
    root.chmod(0o755)  # the orthanc user must reach the files, as it reaches /etc and /opt
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(scratch: Path) -> Installed:
    return install(scratch / "one", "--allow-all-modalities")


def settings_by_file(etc: Path) -> dict[str, set[str]]:
    return {p.name: set(read_orthanc_json(p)) for p in sorted(etc.glob("*.json"))}


def test_python_json_is_replaced_and_the_original_kept(installed: Installed) -> None:
    assert (installed.etc / "python.json.orig-vetmwl").read_bytes() == (ETC / "python.json").read_bytes()
    script = Path(read_orthanc_json(installed.etc / "python.json")["PythonScript"])
    assert script == installed.prefix / "plugin" / "sql_worklist_plugin.py" and script.is_file()
    # Orthanc reads every *.json of the folder and refuses a setting defined twice.
    seen: dict[str, str] = {}
    for name, keys in settings_by_file(installed.etc).items():
        for key in keys:
            assert key not in seen, f"{key} is defined in both {seen[key]} and {name}"
            seen[key] = name


def test_orthanc_json_changes_only_the_encoding_and_the_permission(installed: Installed) -> None:
    before, after = read_orthanc_json(ETC / "orthanc.json"), read_orthanc_json(installed.etc / "orthanc.json")
    assert after["DefaultEncoding"] == "Utf8" and after["DicomAlwaysAllowFindWorklist"] is True
    assert after["DicomAlwaysAllowStore"] is True  # --allow-all-modalities: both, on purpose
    changed = {k for k in before if before[k] != after[k]}
    assert changed <= {"DefaultEncoding", "DicomAlwaysAllowFindWorklist"} and set(before) == set(after)


def test_settings_file_is_for_orthanc_only(installed: Installed) -> None:
    path = installed.etc / "sqlworklist.json"
    stat = path.stat()
    assert stat.st_mode & 0o777 == 0o640  # it holds the database password
    assert stat.st_gid == grp.getgrnam("orthanc").gr_gid
    section = read_orthanc_json(path)[SECTION]
    assert set(section) <= set(_KEYS) and {"ConnectionString", "Dialect"} <= set(section)


def test_installing_again_keeps_the_site_settings_and_debians_original(scratch: Path) -> None:
    first = install(scratch / "twice")
    (first.etc / "sqlworklist.json").write_text('{"SqlWorklist": {"ConnectionString": "mine", "Dialect": "sqlite"}}')
    second = install(scratch / "twice")
    assert "mine" in (second.etc / "sqlworklist.json").read_text()
    assert (second.etc / "python.json.orig-vetmwl").read_bytes() == (ETC / "python.json").read_bytes()
    # Not asked to allow all: only the modalities listed in DicomModalities may query and store.
    settings = read_orthanc_json(second.etc / "orthanc.json")
    assert settings["DicomAlwaysAllowFindWorklist"] is False and settings["DicomAlwaysAllowStore"] is False


def systemd_analyze_verify(unit_dir: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is missing (Debian's systemd package provides it)")
    # A unit path ending in ":" keeps the default paths, so Debian's orthanc.service is found in
    # /lib/systemd/system and the drop-in in unit_dir/orthanc.service.d is applied to it.
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit_dir}:")
    return subprocess.run([tool, "verify", "orthanc.service"], capture_output=True, text=True, env=env)


def test_systemd_analyze_verifies_the_unit_with_the_drop_in(installed: Installed) -> None:
    done = systemd_analyze_verify(installed.unit_dir)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ('Environment="PYTHONPATH=/opt/x', "Invalid syntax"),
        ("Enviroment=TCP_NODELAY=1", "Unknown key"),
        ("ExecStartPre=relative/path", "absolute path"),
    ],
)
def test_systemd_analyze_reports_a_broken_drop_in(
    installed: Installed, tmp_path: Path, line: str, complaint: str
) -> None:
    """The check above can fail: systemd-analyze reads the drop-in and names its mistakes."""
    unit_dir = tmp_path / "systemd"
    shutil.copytree(installed.unit_dir, unit_dir)
    with (unit_dir / DROP_IN).open("a") as drop_in:
        drop_in.write(line + "\n")
    done = systemd_analyze_verify(unit_dir)
    assert complaint in done.stdout + done.stderr
    assert str(unit_dir / DROP_IN) in done.stdout + done.stderr


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def set_setting(path: Path, key: str, value: str) -> None:
    """Change a top-level setting of an Orthanc configuration file where it stands."""
    text, count = re.subn(rf'^(\s*"{key}"\s*:\s*)[^,\n]*', rf"\g<1>{value}", path.read_text(), flags=re.MULTILINE)
    assert count == 1, key
    path.write_text(text)


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"Orthanc exited with {process.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"Orthanc did not open port {port}")


def can_read_as_orthanc(path: Path) -> bool:
    return subprocess.run(["runuser", "-u", "orthanc", "--", "test", "-r", str(path)]).returncode == 0


def test_orthanc_started_as_the_unit_starts_it_serves_the_worklist(
    installed: Installed, demo_file: Path, tmp_path: Path
) -> None:
    # The site's part: a database, and its settings in sqlworklist.json (the mode stays 0640).
    database = installed.root / "worklist.sqlite"
    connection = f"Driver=SQLite3;Database={database}"
    assert importer.main(["--dialect", "sqlite", "--connection", connection, "--create-schema", str(demo_file)]) == 0
    database.chmod(0o644)
    settings = {SECTION: {"ConnectionString": connection, "Dialect": "sqlite"}}
    (installed.etc / "sqlworklist.json").write_text(json.dumps(settings))
    # Free ports and a scratch storage instead of Debian's 4242, 8042 and /var/lib/orthanc.
    dicom_port, storage, logs = free_port(), installed.root / "storage", installed.root / "log"
    set_setting(installed.etc / "orthanc.json", "DicomPort", str(dicom_port))
    set_setting(installed.etc / "orthanc.json", "HttpPort", str(free_port()))
    for key in ("StorageDirectory", "IndexDirectory"):
        set_setting(installed.etc / "orthanc.json", key, f'"{storage}"')
    for folder in (storage, logs):
        folder.mkdir()
        shutil.chown(folder, "orthanc", "orthanc")

    unit = unit_settings(UNIT)
    (exec_start,) = unit["ExecStart"]
    command = [
        word.replace("/var/log/orthanc", str(logs)) if word.startswith("--logdir") else word
        for word in shlex.split(exec_start)
    ]
    assert command[-1] == "/etc/orthanc"
    command[-1] = str(installed.etc)
    # The drop-in's environment and nothing else from ours, as systemd would run it.
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for assignment in unit_settings(installed.unit_dir / DROP_IN)["Environment"]:
        key, _, value = assignment.partition("=")
        environment[key] = value
    assert Path(environment["PYTHONPATH"]).resolve() == SITE_PACKAGES.resolve()
    (user,) = unit["User"]
    if can_read_as_orthanc(SITE_PACKAGES / "pyodbc.pyi"):
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", *command]

    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(dicom_port, process)
        result = pynetdicom_find(dicom_port, broad_query(), aec="ORTHANC")  # Debian's AE title
        assert result.final_status == 0 and len(result.answers) == 30
        log = "".join(p.read_text(errors="replace") for p in logs.iterdir())
        assert "SqlWorklist: version" in log and "dialect=sqlite" in log
    finally:
        process.kill()  # a throw-away instance: its orderly shutdown would only cost seconds
        process.wait(timeout=15)


def test_orthanc_refuses_a_setting_defined_in_two_files(scratch: Path) -> None:
    """Why install.sh replaces python.json instead of adding PythonScript in a file of its own."""
    etc = scratch / "twice-defined"
    etc.mkdir()
    (etc / "python.json").write_text((ETC / "python.json").read_text())
    (etc / "ours.json").write_text('{"PythonScript": "/opt/vetmwl/plugin/sql_worklist_plugin.py"}')
    done = subprocess.run(["Orthanc", str(etc)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert 'The configuration section "PythonScript" is defined in 2 different configuration files' in done.stderr


def test_the_site_check_runs_as_docs_impromed_says(
    installed: Installed, demo_file: Path, demo_items: list[dict], today: date
) -> None:
    """docs/impromed.md step 7 on the installed layout: the orthanc user, the venv's Python, the plugin
    copied to /opt/vetmwl/plugin (whose sql/ the check finds beside it), /etc/orthanc as Orthanc reads it."""
    database = installed.root / "check.sqlite"
    connection = f"Driver=SQLite3;Database={database}"
    assert importer.main(["--dialect", "sqlite", "--connection", connection, "--create-schema", str(demo_file)]) == 0
    database.chmod(0o644)
    (installed.etc / "sqlworklist.json").write_text(json.dumps({SECTION: {"ConnectionString": connection,
                                                                          "Dialect": "sqlite"}}))  # fmt: skip
    doc = (REPO / "docs" / "impromed.md").read_text(encoding="utf-8")
    (line,) = [line for line in doc.splitlines() if line.startswith("sudo -u orthanc env PYTHONPATH=")]
    words = shlex.split(line.replace("/opt/vetmwl", str(installed.prefix)).replace("/etc/orthanc", str(installed.etc)))
    assert words[:4] == ["sudo", "-u", "orthanc", "env"]
    command = words[3:] if not can_read_as_orthanc(SITE_PACKAGES / "pyodbc.pyi") else ["runuser", "-u", "orthanc",
                                                                                         "--", *words[3:]]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "ready"
    steps = [i["ScheduledProcedureStepSequence"][0] for i in demo_items]
    dx = [s for s in steps if s["Modality"] == "DX" and s["ScheduledProcedureStepStartDate"] == f"{today:%Y%m%d}"]
    assert f"DX_ROOM1 receives {len(dx)} item(s) for {today:%Y-%m-%d} (DX):" in done.stdout
