"""docker/Dockerfile built and run for real, with podman, on a stand-in for the orthancteam image.

Images cannot be pulled here, so the Dockerfile's FROM image is replaced (``podman build --from``)
by a stand-in with the real image's versions of Orthanc (1.13.0), its Python plugin (7.1) and
Python (3.14), and the layout and conventions the Dockerfile relies on (tests/support/standin/).
The Dockerfile's own steps run on it: pip installs requirements.txt into the image, the COPY lines
copy through .dockerignore, the ENV and USER lines hold. The container then gets the compose
service's environment (its SQL Server connection replaced by the demo schedule in SQLite, mounted
read-only), answers dcmtk's findscu from this host through a port published on 127.0.0.1, passes
the compose healthcheck's own command, and stops on ``podman stop``. docker/README.md says what
this proves and what it does not.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from support.clients import findscu
from support.deploy import DOCKERFILE, compose, env_file, environment
from support.readme import readme_findscu_keys
from support.servers import REPO, free_port
from support.standin import ULIMITS, ensure_standin, podman
from vetmwl.tools import importer

DATABASE = "/data/worklist.sqlite"
#: A private network namespace whose ports slirp4netns publishes on this host's 127.0.0.1: the
#: container keeps Orthanc's ports 4242 and 8042, and no traffic leaves the loopback here.
NETWORK = "slirp4netns:port_handler=slirp4netns"
OFFERED = ("SCHEDULED", "ARRIVED", "READY", None)  # the plugin's default Statuses (NULL is SCHEDULED)


@dataclass
class Container:
    name: str
    dicom_port: int
    http_port: int

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def exec(self, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        """``argv`` run in the container (with the image's environment, plus ``env``)."""
        options = [f"--env={name}={value}" for name, value in (env or {}).items()]
        done = podman("exec", *options, self.name, *argv, check=False, timeout=60)
        return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def standin() -> str:
    for tool in ("podman", "debootstrap"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/setup.sh --dev installs it (this test never skips)")
    return ensure_standin()


@pytest.fixture(scope="module")
def image(standin: str) -> Iterator[str]:
    """docker/Dockerfile built from the repository, as compose builds it, on the stand-in."""
    tag = f"localhost/vetmwl-orthanc:test-{os.getpid()}"
    podman(
        "build",
        *ULIMITS,
        "--network=host",  # pip reaches the package registry the way this host does
        "--layers=false",  # every step runs, nothing comes from a cache
        "--from",
        standin,
        "--file",
        str(DOCKERFILE),
        "--tag",
        tag,
        str(REPO),
        timeout=600,
    )
    yield tag
    podman("rmi", "--force", tag, check=False)


@pytest.fixture(scope="module")
def demo_database(demo_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo schedule from today on (vetmwl.tools.demo), in SQLite, loaded by vetmwl.tools.importer."""
    path = tmp_path_factory.mktemp("docker-db") / "worklist.sqlite"
    arguments = ["--dialect", "sqlite", "--connection", f"Driver=SQLite3;Database={path}", "--create-schema"]
    assert importer.main([*arguments, str(demo_file)]) == 0
    return path


def healthcheck() -> list[str]:
    return compose()["services"]["orthanc"]["healthcheck"]["test"]


@pytest.fixture(scope="module")
def container(image: str, demo_database: Path) -> Iterator[Container]:
    env = environment(compose()["services"]["orthanc"])
    del env["ORTHANC__SQL_WORKLIST__PASSWORD_FILE"]  # a SQLite file here: no password, no secret
    modalities = json.loads(env["ORTHANC__DICOM_MODALITIES"])
    modalities["readme"] = {"AET": "FINDSCU", "Host": "127.0.0.1", "Port": 104, "AllowFindWorklist": True}
    env.update(
        ORTHANC__SQL_WORKLIST__CONNECTION_STRING=f"Driver=SQLite3;Database={DATABASE}",
        ORTHANC__SQL_WORKLIST__DIALECT="sqlite",
        ORTHANC__SQL_WORKLIST__VIEW="worklist",
        ORTHANC__DICOM_MODALITIES=json.dumps(modalities),  # the README's findscu is one of the listed modalities
    )
    box = Container(f"vetmwl-test-{os.getpid()}", free_port(), free_port())
    arguments = [
        "run",
        "--detach",
        "--name",
        box.name,
        *ULIMITS,
        "--network",
        NETWORK,
        "--publish",
        f"127.0.0.1:{box.dicom_port}:4242",
        "--publish",
        f"127.0.0.1:{box.http_port}:8042",
        "--volume",
        f"{demo_database}:{DATABASE}:ro",
        # compose's own healthcheck, run on demand below (no systemd timer here).
        "--health-cmd",
        json.dumps(healthcheck()),
        "--health-interval",
        "disable",
    ]
    for name, value in env.items():
        arguments += ["--env", f"{name}={value}"]
    podman(*arguments, image)
    try:
        deadline = time.monotonic() + 60
        while podman("healthcheck", "run", box.name, check=False).returncode != 0:
            state = podman("inspect", "--format", "{{.State.Status}}", box.name, check=False).stdout.strip()
            assert state == "running", f"the container is {state}:\n{box.logs()[-4000:]}"
            assert time.monotonic() < deadline, f"Orthanc did not become healthy:\n{box.logs()[-4000:]}"
            time.sleep(0.5)
        yield box
    finally:
        podman("rm", "--force", "--time", "0", box.name, check=False)


def test_the_container_runs_orthanc_as_the_orthanc_user_with_the_plugin(container: Container) -> None:
    status, user = container.exec("id", "-u")
    assert (status, user.strip()) == (0, "999")
    status, text = container.exec("cat", "/proc/1/status")  # the entrypoint exec'd Orthanc itself
    assert status == 0 and text.startswith("Name:\tOrthanc\n") and "\nUid:\t999\t" in text
    logs = container.logs()
    assert "SqlWorklist: version" in logs and "dialect=sqlite" in logs
    # The pip target serves the image's Python, whatever its version.
    status, text = container.exec("python3", "-c", "import jinja2, pydicom, pyodbc, vetmwl; print(pyodbc.__file__)")
    assert status == 0 and text.startswith("/opt/vetmwl/site-packages/"), text


def test_findscu_from_the_host_gets_todays_dx_procedures(container: Container, demo_items: list[dict]) -> None:
    """The README's query, as an X-ray device sends it, through the published DICOM port."""
    today = date.today().strftime("%Y%m%d")
    keys = readme_findscu_keys(date.today())
    result = findscu(container.dicom_port, keys)
    assert result.final_status == 0, result.output
    expected = {
        item["AccessionNumber"]
        for item in demo_items
        if item["ScheduledProcedureStepSequence"][0]["Modality"] == "DX"
        and item["ScheduledProcedureStepSequence"][0]["ScheduledProcedureStepStartDate"] == today
        and item["ScheduledProcedureStepSequence"][0].get("ScheduledProcedureStepStatus") in OFFERED
    }
    assert len(expected) >= 3
    assert {answer.AccessionNumber for answer in result.answers} == expected
    for answer in result.answers:
        (sps,) = answer.ScheduledProcedureStepSequence
        assert (sps.Modality, sps.ScheduledProcedureStepStartDate) == ("DX", today)
        assert answer.PatientName and answer.PatientSpeciesDescription


def test_the_compose_healthcheck_passes_in_the_container(container: Container) -> None:
    assert podman("healthcheck", "run", container.name, check=False).returncode == 0
    assert podman("inspect", "--format", "{{.State.Health.Status}}", container.name).stdout.strip() == "healthy"
    kind, command = healthcheck()
    assert kind == "CMD-SHELL" and env_file()["ORTHANC_ADMIN_PASSWORD"] not in command
    status, output = container.exec("sh", "-c", command, env={"VETMWL_HEALTHCHECK_PASSWORD": "not-the-password"})
    assert status != 0 and "401" in output, output  # curl --fail on Orthanc's "401 Unauthorized"


def test_the_init_script_starts_in_the_image(container: Container) -> None:
    """compose's init-db entrypoint: it imports the plugin's modules and goes as far as ODBC.

    The stand-in has no SQL Server driver (msodbcsql18 is in the real -full image only), so the
    connection fails, at once with no time to wait.
    """
    init = compose()["services"]["init-db"]
    env = {**environment(init), "VETMWL_WAIT_SECONDS": "0", "VETMWL_READER_PASSWORD": "Reader-pw-2026!"}
    del env["VETMWL_READER_PASSWORD_FILE"]  # compose's secret is not mounted here
    status, output = container.exec(*init["entrypoint"], env=env)
    assert status == 1, output
    assert "Can't open lib 'ODBC Driver 18 for SQL Server'" in output, output


def test_podman_stop_ends_orthanc_cleanly(container: Container) -> None:
    """Runs last: ``podman stop`` sends SIGTERM to Orthanc, which must exit 0 before the timeout."""
    started = time.monotonic()
    done = podman("stop", "--time", "30", container.name, check=False, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 30, "podman had to kill Orthanc"
    code = int(podman("inspect", "--format", "{{.State.ExitCode}}", container.name).stdout)
    logs = container.logs()
    assert "Orthanc is stopping" in logs
    assert code == 0, logs[-3000:]
