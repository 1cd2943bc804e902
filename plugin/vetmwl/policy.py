"""The calling AE's options turned into matching: offered statuses, its own station, modality aliases.

They only ever narrow or widen what the query itself leaves open, so a query that names a status,
a station or a modality still gets exactly what it asked for (aliases aside, which widen a
single-value Modality match to a list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import AeOptions
from .kinds import Equals, Filter, InList
from .model import MODALITY, STATION, STATUS, UNKNOWN_STATUS, Level


@dataclass(frozen=True)
class Policy:
    """The filters to run, and the Modality to answer for steps found through an alias (or None)."""

    filters: tuple[Filter, ...]
    answered_modality: str | None = None


def apply_options(filters: Sequence[Filter], options: AeOptions, calling_aet: str | None) -> Policy:
    """The query's filters with the calling AE's options applied."""
    out = list(filters)
    asked = {f.keyword for f in filters}
    if STATUS not in asked:
        # Unknown statuses count as SCHEDULED (see model.UNKNOWN_STATUS).
        out.append(InList(STATUS, options.statuses, or_unknown=UNKNOWN_STATUS in options.statuses, level=Level.STEP))
    aet = (calling_aet or "").strip()
    if options.restrict_to_own_station and aet and STATION not in asked:
        out.append(Equals(STATION, aet, level=Level.STEP))
    answered = None
    for n, f in enumerate(out):
        if isinstance(f, Equals) and f.keyword == MODALITY:
            aliases = options.aliases_of(f.value)
            if aliases and aliases != (f.value,):
                out[n] = InList(MODALITY, aliases, level=Level.STEP)
                # Orthanc re-checks the step item against the query and would empty it for a CR
                # step answering a DX query, so such steps are answered with the asked modality.
                answered = f.value
    return Policy(tuple(out), answered)
