"""The matrix's roots are removed without walking into what is mounted inside them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.runtimes import remove_tree


def test_remove_tree_detaches_a_stale_mount_before_deleting(tmp_path: Path) -> None:
    """A half-built root left with a mount inside (a killed debootstrap) goes; what the mount showed stays."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("kept\n")
    root = tmp_path / "trixie.partial"
    (root / "proc").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "hostname").write_text("root\n")
    subprocess.run(["mount", "--bind", str(outside), str(root / "proc")], check=True)
    try:
        assert (root / "proc" / "precious").exists()
        remove_tree(root)
    finally:
        subprocess.run(["umount", "--lazy", str(root / "proc")], capture_output=True)
    assert not root.exists()
    assert (outside / "precious").read_text() == "kept\n"


def test_remove_tree_of_nothing_is_nothing(tmp_path: Path) -> None:
    remove_tree(tmp_path / "never-built")
    assert not (tmp_path / "never-built").exists()
