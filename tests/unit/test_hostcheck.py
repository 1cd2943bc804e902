"""The check for the machine whose host name does not resolve (5 s stalls in DCMTK, see hostcheck)."""

from __future__ import annotations

import socket

from vetmwl.hostcheck import hostid_problem


def test_a_host_id_of_zero_explains_the_stalls_and_the_fix() -> None:
    problem = hostid_problem(lambda: 0)
    assert problem is not None
    assert f"'127.0.1.1 {socket.gethostname()}' to /etc/hosts" in problem
    assert "5 s" in problem


def test_a_host_id_or_no_libc_is_no_problem() -> None:
    assert hostid_problem(lambda: 0x7F0100) is None
    assert hostid_problem(lambda: -1) is None  # gethostid() is signed: any bit set counts
    assert hostid_problem(lambda: None) is None


def test_this_machine_can_be_asked() -> None:
    """The real libc call runs (its answer depends on the machine, so only its type is checked)."""
    assert hostid_problem() is None or "127.0.1.1" in str(hostid_problem())
