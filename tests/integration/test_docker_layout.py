"""The Docker image's layout and configuration, run by the host's Orthanc (Debian 12's 1.10) without a container.

tests/integration/test_docker_image.py builds and runs the image itself with podman, on a stand-in
with the image's Orthanc 1.13. This test keeps the same layout working on the oldest Orthanc of
the compatibility matrix, in seconds: it puts the files where the Dockerfile's COPY lines put them
(under a scratch folder standing for /), builds Orthanc's configuration from the ORTHANC__
variables of the Dockerfile and docker-compose.yml by the image's documented rule, runs Orthanc
with the Dockerfile's PYTHONPATH, queries the worklist, and runs the compose healthcheck's command
against it. Deliberate differences: Orthanc 1.10 instead of the image's, our venv instead of the
pip target (the same requirements.txt), MariaDB instead of SQL Server (which does not run here),
free ports.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

from support.clients import broad_query, pynetdicom_find
from support.deploy import compose, dockerfile_copies, dockerfile_env, environment
from support.servers import PYTHON_PLUGIN, REPO, SITE_PACKAGES, free_port
from support.standin.generate_configuration import from_environment

IMAGE_ROOT = "/opt/vetmwl"


def stage(root: Path) -> None:
    """The image's /opt/vetmwl, under ``root``: what the COPY lines copy, and the pip target."""
    for sources, dest in dockerfile_copies():
        for source in sources:
            target = root / dest.lstrip("/")
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target = target / Path(source).name if dest.endswith("/") else target
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / source, target)
    (root / IMAGE_ROOT.lstrip("/") / "site-packages").symlink_to(SITE_PACKAGES)


def test_image_layout_and_environment_serve_the_worklist(mariadb_db: str, tmp_path: Path) -> None:
    root = tmp_path / "image"
    stage(root)
    staged = str(root / IMAGE_ROOT.lstrip("/"))
    env = {**dockerfile_env(), **environment(compose()["services"]["orthanc"])}
    env = {k: v.replace(IMAGE_ROOT, staged) for k, v in env.items()}
    configuration = from_environment(env)
    assert configuration["PythonScript"].startswith(staged)
    # What the image adds by itself (its orthanc-defaults.json), and our deliberate differences.
    dicom_port, http_port = free_port(), free_port()
    configuration.update(
        RemoteAccessAllowed=True,
        AuthenticationEnabled=True,
        Plugins=[PYTHON_PLUGIN],  # the image moves only the enabled plugins into its plugin folder
        StorageDirectory=str(tmp_path / "storage"),
        IndexDirectory=str(tmp_path / "storage"),
        DicomPort=dicom_port,
        HttpPort=http_port,
    )
    configuration["SqlWorklist"].update(ConnectionString=mariadb_db, Dialect="mariadb", View="worklist")
    del configuration["SqlWorklist"]["PasswordFile"]  # the test database's string holds its password
    # The production configuration lists the modalities; this test's client is one of them.
    configuration["DicomModalities"]["test"] = {"AET": "PYNETDICOM", "Host": "127.0.0.1", "Port": 104}
    assert configuration["DicomAlwaysAllowFindWorklist"] is False
    config_path = tmp_path / "orthanc.json"
    config_path.write_text(json.dumps(configuration, indent=1))

    process_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": env["PYTHONPATH"], "TCP_NODELAY": "1"}
    log = (tmp_path / "orthanc.log").open("wb")
    process = subprocess.Popen(["Orthanc", "--verbose", str(config_path)], env=process_env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "orthanc.log").read_text()[-3000:]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", dicom_port), timeout=1):
                break
            assert time.monotonic() < deadline, "Orthanc did not open its DICOM port"
            time.sleep(0.1)
        result = pynetdicom_find(dicom_port, broad_query(), aec=configuration["DicomAet"])
        assert result.final_status == 0 and len(result.answers) == 30
        text = (tmp_path / "orthanc.log").read_text(errors="replace")
        assert f'Using Python script "sql_worklist_plugin.py" from directory: {staged}/plugin' in text
        assert "SqlWorklist: version" in text

        # A C-FIND from an AE title that is not listed is refused by Orthanc itself.
        with contextlib.suppress(RuntimeError):
            refused = pynetdicom_find(dicom_port, broad_query(), aec=configuration["DicomAet"], aet="STRANGER")
            assert refused.final_status != 0 and not refused.answers

        # The compose healthcheck's own command, pointed at this Orthanc's port, with the
        # container's environment (where the password is); and with a wrong password.
        check = compose()["services"]["orthanc"]["healthcheck"]["test"]
        command = check[1].replace("localhost:8042", f"localhost:{http_port}")
        check_env = {"PATH": process_env["PATH"], "VETMWL_HEALTHCHECK_PASSWORD": env["VETMWL_HEALTHCHECK_PASSWORD"]}
        done = subprocess.run(["sh", "-c", command], capture_output=True, env=check_env)
        assert done.returncode == 0, done.stderr
        wrong = {**check_env, "VETMWL_HEALTHCHECK_PASSWORD": 'not-"the\\-password'}
        done = subprocess.run(["sh", "-c", command], capture_output=True, env=wrong, text=True)
        assert done.returncode != 0 and "401" in done.stderr
    finally:
        process.kill()  # a throw-away instance: its orderly shutdown would only cost seconds
        process.wait(timeout=15)
        log.close()
