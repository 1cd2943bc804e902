"""The Orthancs the plugin is tested on: the host's own, and Debian roots with another Debian's Orthanc.

A root is made once with ``debootstrap`` (about a minute and 300 MB each) and kept in
``var/roots/<suite>`` (or ``$VETMWL_ROOTS/<suite>``); a stamp file records what it was built
with, so a changed package list or requirements file builds it again. Orthanc runs in it through
``chroot``, inside a private mount namespace (``unshare -m``) where ``/proc``, ``/tmp``, the
repository and the host's ``/etc/hosts`` are bound at their own paths: every path a test writes
into a configuration is then the same inside and outside, and the mounts vanish with the process,
so a root never keeps a mount that a later ``rm -r`` could follow. The root reaches the host's
loopback, so the databases the tests start serve it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIRROR = "http://deb.debian.org/debian"
PYTHON_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPython.so"
#: Mounts made under this prefix live in the command's own namespace and end with it.
_PRIVATE_MOUNTS = ("unshare", "--mount", "--propagation", "private")
#: What a matrix root holds: Orthanc with its Python plugin, the venv tool, ODBC with the drivers of
#: the dialects that run here, and dcmtk.
ORTHANC_PACKAGES = (
    "orthanc",
    "orthanc-python",
    "python3-venv",
    "unixodbc",
    "libsqliteodbc",
    "odbc-postgresql",
    "odbc-mariadb",
    "dcmtk",
)
#: The Debian suites of the compatibility matrix beside the host: Debian 13 (Orthanc 1.12.7,
#: orthanc-python 5.0, Python 3.13) and unstable (1.13.0, 7.1, Python 3.14).
SUITES = ("trixie", "sid")
VENV = "/opt/vetmwl/venv"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Keeps services from starting while apt installs packages in a root (Debian's Docker images do the same).
_POLICY_RC_D = "#!/bin/sh\n# vetmwl test root: no service starts during package installation\nexit 101\n"


def roots_dir() -> Path:
    return Path(os.environ.get("VETMWL_ROOTS") or REPO / "var" / "roots")


@dataclass(frozen=True)
class Runtime:
    """Where an Orthanc runs: the host (``root`` is None) or a Debian root."""

    name: str
    root: Path | None = None
    #: Whether the root sees the host's /etc/hosts (with this machine's name), as a real install's
    #: has its own name there; False leaves debootstrap's, where the name does not resolve.
    hostname_resolves: bool = True

    @property
    def python_plugin(self) -> str:
        return PYTHON_PLUGIN

    def site_packages(self) -> str:
        """The plugin's venv site-packages, as a path the runtime's Orthanc sees."""
        if self.root is None:
            return venv_site_packages(REPO / ".venv")
        return _site_packages_in_root(self.root)

    def command(self, argv: Sequence[str], env: Mapping[str, str], binds: Sequence[Path] = ()) -> list[str]:
        """``argv`` with ``env`` as the process's whole environment, run on this runtime.

        On a root the command is ``exec``'d by ``chroot``, so the process the caller starts is,
        in the end, the program itself: signals reach it and its exit status is its own.
        """
        assignments = [f"{k}={v}" for k, v in env.items()]
        if self.root is None:
            return ["env", "-i", *assignments, *argv]
        mounts = ['mount -t proc proc "$R/proc"']
        if self.hostname_resolves:
            mounts.append('mount --bind /etc/hosts "$R/etc/hosts"')
        for path in _outermost([Path("/tmp"), REPO, *binds]):
            (self.root / path.relative_to("/")).mkdir(parents=True, exist_ok=True)
            mounts.append(f'mount --bind {shlex.quote(str(path))} "$R"{shlex.quote(str(path))}')
        return chroot_command(self.root, mounts, argv, env)

    def run(self, argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess:
        """Run a command in this runtime with a plain environment (PATH only)."""
        return subprocess.run(self.command(argv, {"PATH": _PATH}), **kwargs)  # type: ignore[call-overload]

    def orthanc_version(self) -> str:
        done = self.run(["Orthanc", "--version"], capture_output=True, text=True, check=True)
        return done.stdout.split("\n", 1)[0].split()[-1]


HOST = Runtime("host")


def chroot_command(
    root: Path, mounts: Sequence[str], argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
) -> list[str]:
    """``argv`` run in ``root`` with ``env`` as its whole environment, after the shell ``mounts``
    (which name the root ``$R``), in a mount namespace of its own, from ``cwd`` (a path in the root).

    Every step ``exec``s the next, so the process started is, in the end, the program itself:
    signals reach it and its exit status is its own.
    """
    script = " && ".join(mounts) + ' && exec chroot "$R" "$@"'
    assignments = [f"{k}={v}" for k, v in env.items()]
    directory = ["-C", str(cwd)] if cwd is not None else []
    return [
        *_PRIVATE_MOUNTS,
        "--",
        "env",
        f"R={root}",
        "sh",
        "-c",
        script,
        "sh",
        "env",
        "-i",
        *directory,
        *assignments,
        *argv,
    ]


def _outermost(paths: Sequence[Path]) -> list[Path]:
    """The paths, without those inside another one of them (one bind covers both)."""
    resolved = sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def venv_site_packages(venv: Path) -> str:
    """A venv's site-packages, asked of the venv's own Python: no Python version is written anywhere."""
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@cache
def _site_packages_in_root(root: Path) -> str:
    done = subprocess.run(
        ["chroot", str(root), f"{VENV}/bin/python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def _stamp(packages: Sequence[str], requirements: Sequence[Path]) -> str:
    digest = hashlib.sha256(" ".join(packages).encode())
    for path in requirements:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _chroot(root: Path, *argv: str) -> None:
    subprocess.run(
        ["chroot", str(root), "env", "-i", f"PATH={_PATH}", *argv],
        check=True,
        capture_output=True,
        text=True,
    )


def _copy_network_settings(root: Path) -> None:
    """Name resolution, the host's CA bundle and pip configuration: without them pip in the root
    cannot reach the package registry here."""
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.exists():
        (root / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
        shutil.copy(bundle, root / "etc/ssl/certs/ca-certificates.crt")
    for config in (Path("/etc/pip.conf"), Path("/etc/xdg/pip")):
        if config.is_file():
            shutil.copy(config, root / "etc" / config.name)
        elif config.is_dir():
            shutil.copytree(config, root / config.relative_to("/"), dirs_exist_ok=True)


def remove_tree(root: Path) -> None:
    """Delete a root, first detaching what is still mounted inside it.

    A run killed mid-build (a machine restart during debootstrap, with an older checkout's code)
    can leave ``/proc`` mounted in a half-built root; ``rm -r`` would then walk into it.
    """
    if not root.exists():
        return
    prefix = str(root.resolve()) + "/"
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for inside in sorted((m for m in mounts if (m + "/").startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", inside], check=True)
    shutil.rmtree(root)


def debootstrap(suite: str, target: Path, packages: Sequence[str]) -> None:
    """A minimal Debian root of ``suite`` with ``packages``, and no service ever started in it.

    debootstrap mounts ``/proc`` in the target; in a mount namespace of its own that mount ends with
    it, even when it is killed, instead of staying on the host inside a half-built root.
    """
    remove_tree(target)
    include = ["--include=" + ",".join(packages)] if packages else []
    done = subprocess.run(
        [*_PRIVATE_MOUNTS, "debootstrap", "--variant=minbase", *include, suite, str(target), MIRROR],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        log = (target / "debootstrap" / "debootstrap.log").read_text(errors="replace") if target.exists() else ""
        raise RuntimeError(f"debootstrap {suite} failed ({done.returncode}):\n{done.stderr[-3000:]}\n{log[-3000:]}")
    policy = target / "usr/sbin/policy-rc.d"
    policy.write_text(_POLICY_RC_D)
    policy.chmod(0o755)
    _copy_network_settings(target)


def ensure_root(suite: str, extra_requirements: Sequence[str] = ()) -> Runtime:
    """The matrix root of ``suite``, built once (debootstrap, then the plugin's venv) and reused."""
    requirements = [REPO / "requirements.txt"]
    wanted = _stamp([*ORTHANC_PACKAGES, *extra_requirements], requirements)
    root = roots_dir() / suite
    stamp = root / "opt" / "vetmwl" / "stamp"
    with locked(roots_dir() / f"{suite}.lock"):
        if not (stamp.exists() and stamp.read_text() == wanted):
            partial = roots_dir() / f"{suite}.partial"
            debootstrap(suite, partial, ORTHANC_PACKAGES)
            (partial / "opt/vetmwl").mkdir(parents=True, exist_ok=True)
            for path in requirements:
                shutil.copy(path, partial / "opt/vetmwl" / path.name)
            _chroot(partial, "/usr/bin/python3", "-m", "venv", VENV)
            _chroot(
                partial,
                "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                f"{VENV}/bin/pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                "/opt/vetmwl/requirements.txt",
                *extra_requirements,
            )
            (partial / "opt/vetmwl/stamp").write_text(wanted)
            remove_tree(root)
            partial.rename(root)
    _site_packages_in_root.cache_clear()
    return Runtime(suite, root)


def runtime(name: str) -> Runtime:
    """``host``, or a suite of :data:`SUITES` (its root is built on first use)."""
    if name == "host":
        return HOST
    if name not in SUITES:
        raise ValueError(f"unknown Orthanc runtime {name!r}: host, {', '.join(SUITES)}")
    return ensure_root(name)
