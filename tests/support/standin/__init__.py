"""A stand-in for the orthancteam/orthanc image, so that docker/Dockerfile can be built and run here.

Images cannot be pulled here, but podman runs. The stand-in is Debian unstable's Orthanc 1.13.0
with orthanc-python 7.1 and Python 3.14 (the versions of ``orthancteam/orthanc:26.8.1-full``, see
docker/README.md), made with ``debootstrap``, turned into an image with ``podman import``, and
given the real image's layout and conventions by ``Containerfile`` in this folder:
``docker-entrypoint.sh`` and ``generate_configuration.py`` say what they reproduce. docker/Dockerfile
is then built on it with ``podman build --from``.

The stand-in is cached on this machine as ``localhost/vetmwl-standin:<hash of its inputs>`` (suite,
packages, the files of this folder); on CI (``CI=true``) it is always built from scratch. Every
podman command goes through :func:`podman`, which carries the options this sandbox needs.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ..runtimes import MIRROR, debootstrap, roots_dir

HERE = Path(__file__).resolve().parent
#: The Debian suite whose Orthanc, Python plugin and Python match the real image's.
SUITE = "sid"
#: What the Dockerfile needs of the real image (Orthanc, its Python plugin, python3 with pip, curl
#: for the healthcheck, unixODBC), and SQLite's ODBC driver for the test's demo database.
PACKAGES = (
    "orthanc",
    "orthanc-python",
    "python3-pip",
    "curl",
    "ca-certificates",
    "unixodbc",
    "libsqliteodbc",
)
#: The files the stand-in image is made of, besides the root.
IMAGE_FILES = ("Containerfile", "docker-entrypoint.sh", "generate_configuration.py")
IMAGE = "localhost/vetmwl-standin"
ROOT_IMAGE = "localhost/vetmwl-standin-root"
LOCK = "/var/tmp/vetmwl-standin.lock"
#: cgroupfs and a file for events: no systemd here. The storage driver is podman's default
#: (overlay), which works here.
PODMAN = ("podman", "--cgroup-manager=cgroupfs", "--events-backend=file")
#: The sandbox refuses podman's default limits (runc: "error setting rlimits ... operation not permitted").
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


def podman(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} ... failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def inputs_hash() -> str:
    digest = hashlib.sha256(f"{SUITE} {MIRROR} {' '.join(PACKAGES)}".encode())
    for name in IMAGE_FILES:
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def _import_root(root: Path, tag: str) -> None:
    """``tar | podman import``: the root becomes an image of one layer, owners kept as numbers."""
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(root), "-cf", "-", "."], stdout=subprocess.PIPE)
    assert tar.stdout is not None
    done = subprocess.run([*PODMAN, "import", "-", tag], stdin=tar.stdout, capture_output=True, text=True)
    tar.stdout.close()
    if tar.wait() != 0 or done.returncode != 0:
        raise RuntimeError(f"podman import of {root} failed:\n{done.stderr[-3000:]}")


def _forget_standins() -> None:
    """Remove the stand-ins this machine has (other versions, or the one CI rebuilds): about 400 MB each."""
    listed = podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
    for repository in (IMAGE, ROOT_IMAGE):  # the stand-ins first: each root is the parent of one
        for ref in listed:
            if ref.split(":")[0] == repository:
                podman("rmi", ref, check=False)  # never --force: an image that a container uses stays


def ensure_standin(fresh: bool | None = None) -> str:
    """The stand-in image's reference, built unless this machine has it (``fresh``: build anyway).

    ``fresh`` defaults to true on CI, which builds it from scratch every time.
    """
    if fresh is None:
        fresh = os.environ.get("CI") == "true"
    # podman's image store is the machine's: one build at a time, whichever checkout asks.
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure(fresh)


def _ensure(fresh: bool) -> str:
    tag = inputs_hash()
    image = f"{IMAGE}:{tag}"
    if not fresh and podman("image", "exists", image, check=False).returncode == 0:
        return image
    _forget_standins()
    root = roots_dir() / f"standin-{tag}.partial"
    try:
        debootstrap(SUITE, root, PACKAGES)
        # Package files and lists are not part of an image (the real one removes its lists too).
        for leftover in [*root.glob("var/cache/apt/archives/*.deb"), *root.glob("var/lib/apt/lists/*")]:
            if leftover.is_file():
                leftover.unlink()
        _import_root(root, f"{ROOT_IMAGE}:{tag}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    podman(
        "build",
        *ULIMITS,
        "--network=host",
        "--layers=false",
        "--build-arg",
        f"ROOT={ROOT_IMAGE}:{tag}",
        "--tag",
        image,
        "--file",
        str(HERE / "Containerfile"),
        str(HERE),
    )
    return image
