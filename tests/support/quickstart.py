"""The README's quick start on a fresh Debian: a pristine root, the repository, ``bash scripts/demo.sh``.

A pristine root is a ``debootstrap --variant=minbase`` of a suite with nothing added (no Orthanc, no
Python): :func:`pristine_root` builds it once per machine into ``var/roots/pristine-<suite>-<stamp>``
(or under ``$VETMWL_ROOTS``), and :func:`fresh_root` gives each run a copy of it (``cp -a``), so
every run is a first install. CI, on a fresh clone, builds it from scratch.

Commands run in a root as in :mod:`support.runtimes`: ``unshare --mount --propagation private``, then
``/proc`` (and a private ``/dev/pts``, which apt uses for its log) mounted in the root, then
``chroot``; the mounts vanish with the process. Nothing is bound into the root: the repository is
copied in, as a user's clone would be. The root shares the host's network, so its Orthanc listens
on the host's 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .deploy import read_orthanc_json
from .runtimes import MIRROR, REPO, chroot_command, debootstrap, locked, remove_tree, roots_dir

#: Bump when the way a pristine root is made changes, so cached roots are made again.
RECIPE = "1"
#: A cached pristine root older than this is made again, so a warm run does not drift far from
#: what a fresh machine gets from the mirror.
MAX_AGE_DAYS = 7
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Where the clone lies in the root (a user's clone in root's home).
CLONE = Path("/root/vet-mwl")
#: The host's own CA certificates (a TLS-intercepting proxy's, on some machines): when apt installs
#: ``ca-certificates`` in the root it rebuilds the bundle from Debian's list and these, so without
#: them the bundle that :func:`support.runtimes.debootstrap` copied is lost and pip cannot verify
#: the package registry.
LOCAL_CA = Path("/usr/local/share/ca-certificates")


def _stamp(suite: str) -> str:
    return hashlib.sha256(f"{RECIPE} {suite} {MIRROR} minbase".encode()).hexdigest()[:12]


def _copy_local_ca(root: Path) -> None:
    if LOCAL_CA.is_dir():
        shutil.copytree(LOCAL_CA, root / LOCAL_CA.relative_to("/"), dirs_exist_ok=True)


def pristine_root(suite: str) -> tuple[Path, bool]:
    """The cached pristine root of ``suite`` and whether it was just built (a cold run)."""
    base = roots_dir()
    root = base / f"pristine-{suite}-{_stamp(suite)}"
    ready = root / ".vetmwl-pristine"
    with locked(base / f"pristine-{suite}.lock"):
        fresh = ready.exists() and time.time() - ready.stat().st_mtime < MAX_AGE_DAYS * 86400
        if fresh:
            return root, False
        for old in base.glob(f"pristine-{suite}-*"):
            remove_tree(old)
        partial = base / f"pristine-{suite}-{_stamp(suite)}.partial"
        debootstrap(suite, partial, [])
        _copy_local_ca(partial)
        (partial / ready.name).write_text(f"debootstrap --variant=minbase {suite} {MIRROR}\n")
        partial.rename(root)
        return root, True


def fresh_root(suite: str, scratch: Path) -> tuple[Path, bool]:
    """A copy of the pristine root in ``scratch``, for one run; and whether the pristine root was built."""
    pristine, built = pristine_root(suite)
    target = scratch / f"root-{suite}"
    subprocess.run(["cp", "-a", str(pristine), str(target)], check=True)
    return target, built


def copy_repository(root: Path) -> Path:
    """The repository's files into ``root`` at :data:`CLONE`: what ``git ls-files`` lists (committed
    and new files not ignored, as they are in the working tree), so no ``.venv`` or ``var/``."""
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    clone = root / CLONE.relative_to("/")
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, clone / name, follow_symlinks=False)
    return clone


def command(root: Path, argv: Sequence[str], env: Mapping[str, str], cwd: Path = Path("/")) -> list[str]:
    """``argv`` run in the pristine ``root`` with ``env`` as its whole environment, from ``cwd``."""
    mounts = ['mount -t proc proc "$R/proc"', 'mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"']
    return chroot_command(root, mounts, argv, env, cwd)


def port_holder(port: int) -> str | None:
    """Why ``port`` on 127.0.0.1 cannot be had (someone listens, or it cannot be bound), or None."""
    with contextlib.closing(socket.socket()) as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return "something listens on it"
    with contextlib.closing(socket.socket()) as probe:
        # As servers bind (Orthanc too): connections of a previous run in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return f"it cannot be bound ({error.strerror})"
    return None


def demo_ports() -> tuple[int, int, int]:
    """The fixed ports of the repository's orthanc.json: DICOM, HTTP and the MPPS SCP's."""
    configuration = read_orthanc_json(REPO / "orthanc.json")
    return configuration["DicomPort"], configuration["HttpPort"], configuration["SqlWorklist"]["Mpps"]["Port"]


def exit_description(returncode: int | None) -> str:
    """An exit status as a shell shows it: ``0``, ``139 (SIGSEGV)``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        return f"{128 - returncode} ({signal.Signals(-returncode).name})"
    return str(returncode)


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return "(no output)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def stop_group(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """End what is left of a run started in its own session: SIGTERM to the group, then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # Children (apt, pip) may outlive the leader when it was stopped mid-setup.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
