"""The conformance table's vocabulary, and how one query's three answers are compared.

Each :class:`Query` names the PS3.4 rule it exercises. Each side (``ours``, ``orthanc``,
``dcmtk``) must answer exactly the independent expectation (:mod:`conformance.expect`) unless the
query declares a :class:`Diff` for that side, naming the rule that decides and whether the standard
allows that side's answer. A declared difference must still be there, so the table stays true.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from conformance import expect
from conformance.fixture import SPS
from support.reference import IDENTITY_KEYS, SIDES, Outcome, Servers

#: A verdict: the side's answer is wrong per the standard.
WRONG = "wrong"
#: A verdict: the standard leaves this to the SCP, and the side's choice differs from ours.
CHOICE = "allowed"
EMPTY_ITEM = "empty item"
ZERO_LENGTH = "zero-length sequence"


@dataclass(frozen=True)
class Diff:
    """A known difference of one side from the expectation, and the rule that decides it."""

    rule: str
    why: str
    verdict: str = WRONG


@dataclass(frozen=True)
class Query:
    id: str
    rule: str
    #: Root keys: text, or for a sequence a list of at most one item (a dict of keys, nested alike).
    root: dict[str, Any] = field(default_factory=dict)
    #: The step item's keys (the SPS ID is always requested), or EMPTY_ITEM, or ZERO_LENGTH.
    step: dict[str, Any] | str = field(default_factory=dict)
    charset: str = "ISO_IR 192"
    diffs: dict[str, Diff] = field(default_factory=dict)
    #: The choice left to the SCP that the expectation makes (as our conformance statement does).
    choice: str = ""
    #: A fault of ours (the plugin's) that this query shows, and why it is one: the query fails
    #: until the plugin is fixed, and then fails again until this note is removed.
    bug: str = ""

    def step_keys(self) -> dict[str, Any] | None:
        return None if isinstance(self.step, str) else self.step

    def identifier(self) -> Dataset:
        """The C-FIND identifier: the keys, plus the root keys that tell answers apart."""
        ds = Dataset()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some keys are invalid on purpose ('dx' for a CS)
            self._fill(ds)
        return ds

    def _fill(self, ds: Dataset) -> None:
        if self.charset:
            ds.SpecificCharacterSet = self.charset
        for keyword in IDENTITY_KEYS:
            setattr(ds, keyword, "")
        _set_keys(ds, self.root)
        if self.step == ZERO_LENGTH:
            ds.ScheduledProcedureStepSequence = []
        elif self.step == EMPTY_ITEM:
            ds.ScheduledProcedureStepSequence = [Dataset()]
        else:
            item = Dataset()
            item.ScheduledProcedureStepID = ""
            _set_keys(item, self.step_keys() or {})
            ds.ScheduledProcedureStepSequence = [item]

    def expected(self, items: list[dict[str, Any]]) -> frozenset[str]:
        return expect.expected_ids(items, self.root, self.step_keys())


def _set_keys(ds: Dataset, keys: dict[str, Any]) -> None:
    """Keys into a dataset; a list is a sequence key, its items (dicts) set the same way."""
    for keyword, value in keys.items():
        if isinstance(value, list):
            items = []
            for keys_of_item in value:
                item = Dataset()
                _set_keys(item, keys_of_item)
                items.append(item)
            setattr(ds, keyword, items)
        else:
            setattr(ds, keyword, value)


def identity(item: dict[str, Any]) -> tuple[str, ...]:
    """The root values (stripped, as our database holds them) that IDENTITY_KEYS return."""
    return tuple(str(item.get(k) or "").strip() for k in IDENTITY_KEYS)


def resolve_emptied(outcome: Outcome, items: list[dict[str, Any]]) -> frozenset[str]:
    """The SPS IDs of the answers whose step item came back empty, found through their root keys.

    Orthanc empties the step item of an answer its own matcher rejects, so the SPS ID is gone; the
    steps of the fixture with the same root keys that were not answered with an item are the ones.
    Several steps of one requested procedure share root keys: if fewer answers than such steps
    came back empty, which ones cannot be told, and each is written ``?ID``.
    """
    found: set[str] = set()
    for key, count in outcome.emptied.items():
        candidates = sorted(
            item[SPS][0]["ScheduledProcedureStepID"].strip()
            for item in items
            if identity(item) == key and item[SPS][0]["ScheduledProcedureStepID"].strip() not in outcome.ids
        )
        found.update(candidates if len(candidates) == count else [f"?{c}" for c in candidates])
        if not candidates:
            found.add(f"?unknown{key}")
    return frozenset(found)


@dataclass
class Observation:
    """One query's answers from every side, with the expectation."""

    query: Query
    expected: frozenset[str]
    ids: dict[str, frozenset[str]]
    emptied: dict[str, frozenset[str]]
    statuses: dict[str, int | None]
    duplicates: dict[str, tuple[str, ...]]

    def differs(self, side: str) -> bool:
        """Whether the side's answers (or its final status) are not what the expectation says."""
        return self.ids[side] != self.expected or bool(self.emptied[side]) or self.statuses[side] != 0

    def describe(self, side: str) -> str:
        missing = sorted(self.expected - self.ids[side])
        extra = sorted(self.ids[side] - self.expected)
        parts = [f"missing {missing}"] if missing else []
        parts += [f"extra {extra}"] if extra else []
        parts += [f"step item emptied {sorted(self.emptied[side])}"] if self.emptied[side] else []
        if self.statuses[side] != 0:
            parts.append(f"status {self.statuses[side]!r}")
        return ", ".join(parts) or "as expected"

    def problems(self) -> list[str]:
        """Every way this observation breaks the table; empty when the table is true."""
        found = []
        for side in SIDES:
            diff = self.query.diffs.get(side)
            if self.duplicates[side]:
                found.append(f"{side}: the same step answered twice: {self.duplicates[side]}")
            if diff is None and self.differs(side):
                found.append(f"{side}: undeclared difference from the expectation: {self.describe(side)}")
            elif diff is not None and not self.differs(side):
                found.append(f"{side}: the declared difference ({diff.rule}: {diff.why}) is gone")
        if self.emptied["ours"]:
            # Never allowed: a modality cannot use an answer whose step item Orthanc emptied.
            found.append(f"ours: answers arrived with an emptied step item: {self.describe('ours')}")
        if self.query.bug:
            if found:
                found.append(f"ours: known plugin fault: {self.query.bug}")
            else:
                found.append(f"ours: the plugin fault noted on this query is gone, remove the note: {self.query.bug}")
        return found


def observe(servers: Servers, query: Query, items: list[dict[str, Any]]) -> Observation:
    """Ask the three SCPs one query and set their answers against the expectation."""
    outcomes = servers.query(query.identifier())
    return Observation(
        query=query,
        expected=query.expected(items),
        ids={side: o.ids for side, o in outcomes.items()},
        emptied={side: resolve_emptied(o, items) for side, o in outcomes.items()},
        statuses={side: o.status for side, o in outcomes.items()},
        duplicates={side: o.duplicates for side, o in outcomes.items()},
    )


def agreement(observations: list[Observation]) -> Counter[str]:
    """Counts for the report: queries where each pair of sides, and all three, answered alike."""
    counts: Counter[str] = Counter()
    for o in observations:
        seen = {side: (o.ids[side], o.emptied[side]) for side in SIDES}
        counts["ours = orthanc"] += seen["ours"] == seen["orthanc"]
        counts["ours = dcmtk"] += seen["ours"] == seen["dcmtk"]
        counts["orthanc = dcmtk"] += seen["orthanc"] == seen["dcmtk"]
        counts["all three alike"] += seen["ours"] == seen["orthanc"] == seen["dcmtk"]
        for side in SIDES:
            counts[f"{side} = expectation"] += not o.differs(side)
    return counts
