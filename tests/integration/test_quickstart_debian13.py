"""The README's quick start on a fresh Debian 13, from the first install to Ctrl-C (issue #10).

A minimal trixie root with nothing in it (no Orthanc, no Python) gets a copy of the repository and
runs ``bash scripts/demo.sh`` from it as the README says: setup.sh installs the packages and builds
``.venv``, the demo database is made, Orthanc starts on 4242/8042. The README's ``findscu`` example
is then run on the host against it, and Orthanc is stopped with SIGTERM, as Ctrl-C or ``systemctl
stop`` would, and must exit 0. See support/quickstart.py for how roots are made, cached and run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pydicom
import pytest

from support import mpps, quickstart
from support.quickstart import CLONE, PATH
from support.readme import readme_findscu_argv
from support.runtimes import remove_tree

SUITE = "trixie"
#: From the start of demo.sh to an Orthanc that answers: packages, venv, database, start.
SETUP_TIMEOUT = 900


def _require_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("debootstrap, chroot and unshare --mount need root")
    missing = [t for t in ("debootstrap", "unshare", "chroot", "findscu", "echoscu") if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run scripts/setup.sh --dev")


def _ports() -> tuple[int, int, int]:
    """The fixed ports of orthanc.json (DICOM, HTTP, the MPPS SCP's); fail clearly if they are taken
    (the root shares the host's network)."""
    ports = quickstart.demo_ports()
    for port in ports:
        holder = quickstart.port_holder(port)
        if holder:
            pytest.fail(
                f"port {port} on 127.0.0.1 is not free ({holder}); the quick start's Orthanc needs {ports} "
                f"(orthanc.json). Stop whatever holds it (an Orthanc service? systemctl stop orthanc)."
            )
    return ports


def _system(http: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/system", timeout=2) as answer:
            return json.load(answer)
    except (OSError, ValueError):
        return None


def _echo(dicom: int) -> bool:
    done = subprocess.run(
        ["echoscu", "-to", "5", "-aec", "VETMWL", "127.0.0.1", str(dicom)], capture_output=True, timeout=30
    )
    return done.returncode == 0


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """pytest's folder for this run; the root copied into it is removed after the test (the log stays)."""
    yield tmp_path
    for root in tmp_path.glob("root-*"):
        remove_tree(root)


def test_readme_quick_start_on_fresh_debian13(scratch: Path) -> None:
    _require_tools()
    dicom, http, mpps_port = _ports()
    timings: dict[str, float] = {}
    started = time.monotonic()

    root, built = quickstart.fresh_root(SUITE, scratch)
    timings["root (debootstrap)" if built else "root (cached, copied)"] = time.monotonic() - started
    assert not (root / "usr/sbin/Orthanc").exists(), "the pristine root already has Orthanc"
    assert not (root / "usr/bin/python3").exists(), "the pristine root already has Python"
    clone = quickstart.copy_repository(root)
    assert not (clone / ".venv").exists() and not (clone / "var").exists()

    log = scratch / "demo.log"
    # The README's command, from the clone, with the environment of a fresh login (and no stdin).
    argv = quickstart.command(root, ["bash", "scripts/demo.sh"], {"PATH": PATH, "HOME": "/root"}, cwd=CLONE)
    mark = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True)
    try:
        system = None
        deadline = mark + SETUP_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"scripts/demo.sh exited with {quickstart.exit_description(process.returncode)} before Orthanc "
                    f"answered; its output ends:\n{quickstart.tail(log)}"
                )
            system = _system(http)
            if system is not None and _echo(dicom):
                break
            time.sleep(1)
        else:
            pytest.fail(
                f"Orthanc did not answer within {SETUP_TIMEOUT}s; demo.sh's output ends:\n{quickstart.tail(log)}"
            )
        timings["demo.sh until Orthanc answers"] = time.monotonic() - mark
        output_text = log.read_text(errors="replace")

        # It was a first install, and the Orthanc that answers is the root's, started by demo.sh.
        assert re.search(r"^setup: installing .*\borthanc\b", output_text, re.M), quickstart.tail(log)
        version = re.search(r"Orthanc version: (\S+)", output_text)
        assert version and system["Version"] == version.group(1), (system, quickstart.tail(log))
        assert system["DicomAet"] == "VETMWL" and system["DicomPort"] == dicom
        assert mpps.echo(mpps_port, aet="DX_ROOM1") == 0  # the demo's MPPS SCP is on

        # The README's findscu example, on the host; -X -od only add where its answers are written.
        today = date.today()
        readme_argv = readme_findscu_argv(today)
        assert readme_argv[:2] == ["findscu", "-W"] and readme_argv[-1] != "\\"
        assert "127.0.0.1" in readme_argv and str(dicom) in readme_argv, readme_argv
        mark = time.monotonic()
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run(
                [readme_argv[0], "-X", "-od", out, *readme_argv[1:]], capture_output=True, text=True, timeout=60
            )
            answers = [pydicom.dcmread(p) for p in sorted(Path(out).glob("rsp*.dcm"))]
        timings["README findscu"] = time.monotonic() - mark
        findscu_output = (done.stdout + done.stderr)[-3000:]
        assert done.returncode == 0, findscu_output

        # What vetmwl.tools.demo scheduled for today with Modality DX, as the demo wrote it in the root.
        items = json.loads((clone / "var/demo-items.json").read_text(encoding="utf-8"))
        want = sorted(
            (
                i
                for i in items
                if i["ScheduledProcedureStepSequence"][0]["Modality"] == "DX"
                and i["ScheduledProcedureStepSequence"][0]["ScheduledProcedureStepStartDate"] == f"{today:%Y%m%d}"
            ),
            key=lambda i: (
                i["ScheduledProcedureStepSequence"][0]["ScheduledProcedureStepStartTime"],
                i["ScheduledProcedureStepSequence"][0]["ScheduledProcedureStepID"],
            ),
        )
        assert want, "the demo scheduled no DX procedure for today"
        got = sorted(
            answers,
            key=lambda a: (
                a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime,
                a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID,
            ),
        )
        assert len(got) == len(want), findscu_output
        for answer, item in zip(got, want, strict=True):
            sps, want_sps = answer.ScheduledProcedureStepSequence[0], item["ScheduledProcedureStepSequence"][0]
            assert sps.ScheduledProcedureStepID == want_sps["ScheduledProcedureStepID"]
            assert str(answer.PatientName) == item["PatientName"]
            assert answer.AccessionNumber == item["AccessionNumber"]
            assert sps.Modality == "DX"
            assert sps.ScheduledProcedureStepStartDate == f"{today:%Y%m%d}"
            assert sps.ScheduledStationAETitle == want_sps["ScheduledStationAETitle"]

        # Ctrl-C, or systemctl stop: SIGTERM to Orthanc (the process started is Orthanc by now).
        mark = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"Orthanc did not stop within 30s of SIGTERM; its output ends:\n{quickstart.tail(log)}")
        timings["stop"] = time.monotonic() - mark
        timings["total"] = time.monotonic() - started
        print(f"quick start on {SUITE}:", ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
        assert process.returncode == 0, (
            f"Orthanc exited with {quickstart.exit_description(process.returncode)} after SIGTERM; "
            f"its output ends:\n{quickstart.tail(log, 20)}"
        )
    finally:
        quickstart.stop_group(process)
