"""Checks of the machine Orthanc runs on that decide how fast a worklist C-FIND can be.

Orthanc hands every worklist query to the plugin through DCMTK, which makes up a SOP Instance UID
for it from ``gethostid()``. glibc's ``gethostid()`` reads ``/etc/hostid`` or else looks the host
name up, and DCMTK keeps the result only when it is not zero. On a machine whose host name is in
neither ``/etc/hosts`` nor DNS, every C-FIND then waits for a DNS answer, and a lost packet costs
the resolver's 5 s timeout while Orthanc holds its worklist lock: about 1 % of C-FINDs stall for
5 s, and every modality waits behind them. The plugin cannot avoid that call; it can say so.
"""

from __future__ import annotations

import ctypes
import socket
from collections.abc import Callable


def _libc_gethostid() -> int | None:
    try:
        gethostid = ctypes.CDLL(None).gethostid
    except (OSError, AttributeError):
        return None
    gethostid.restype = ctypes.c_long
    return int(gethostid())


def hostid_problem(gethostid: Callable[[], int | None] = _libc_gethostid) -> str | None:
    """Why C-FINDs would stall on this machine, or None when ``gethostid()`` answers by itself."""
    hostid = gethostid()
    if hostid is None or hostid & 0xFFFFFFFF:
        return None
    name = socket.gethostname()
    return (
        f"this machine's host name {name!r} resolves neither from /etc/hosts nor from DNS, and /etc/hostid "
        "is missing: Orthanc (DCMTK) looks the name up on every worklist C-FIND, and each lost DNS answer "
        f"stalls all modalities for 5 s. Add the line '127.0.1.1 {name}' to /etc/hosts (Debian's installer "
        "and Docker do this), then restart Orthanc"
    )
