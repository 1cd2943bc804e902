"""What the standard says a query returns, computed from the fixture by the plainest code possible.

This is the independent expectation the three SCPs are held to, so that all three being wrong
in the same way is caught. It reads the rules literally (PS3.4 C.2.2.2 and Table K.6-1) and makes
the choices the standard leaves to the SCP the way our conformance statement makes them:

- PN matching ignores case (C.2.2.2.1.1, declared as K.6.1.3.2 asks); nothing else ignores case;
- a key that is empty or only ``*`` is universal and also matches items without a value
  (C.2.2.2.3, C.2.2.2.4 note 1); any other key never matches a missing value (K.2.2.1.1.1);
- leading and trailing spaces are not significant in AE, CS, SH, LO and PN values, nor trailing
  ``^`` in PN (PS3.5 6.2); wildcards stand for characters, not bytes (C.2.2.2.4);
- dates, times and date-times compare by value (C.2.2.2.1.3 note 1: ``2230`` is 22:30:00, and
  ``202512301130`` is 2025-12-30 11:30:00); a range includes both bounds (C.2.2.2.5); SPS Start
  Date and Time that are both ranges form one date-time interval (Table K.6-1); otherwise each
  matches on its own;
- a stored attribute with several values matches when any of them does (K.2.2.3);
- numbers (DS, IS) compare by value, ``0.45`` equals ``0.450``: the standard leaves IS and DS
  matching to the SCP (CP-2305), and our conformance statement says "by value";
- a sequence key (a list holding one item of keys) matches when some stored item matches every
  key of it (C.2.2.2.6); a zero-length sequence, or an item whose keys are all universal, is
  universal and matches items without the sequence too.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pydicom.datadict import dictionary_VM, dictionary_VR, tag_for_keyword

SPS = "ScheduledProcedureStepSequence"
START_DATE = "ScheduledProcedureStepStartDate"
START_TIME = "ScheduledProcedureStepStartTime"
_TRIMMED = {"AE", "CS", "SH", "LO", "PN"}
_NUMBERS = {"DS", "IS"}


def _date(text: str) -> date:
    return datetime.strptime(text.strip(), "%Y%m%d").date()


def _time(text: str) -> time:
    """A TM value as the moment it names: ``08`` is 08:00:00, ``083015.12`` is 08:30:15.120000."""
    text = text.strip()
    whole, _, fraction = text.partition(".")
    parts = [int(whole[i : i + 2]) for i in range(0, len(whole), 2)] + [0, 0]
    return time(parts[0], parts[1], parts[2], int(fraction.ljust(6, "0")) if fraction else 0)


def _datetime(text: str) -> datetime:
    """A DT value (no UTC offset) as the moment it names: ``202512301130`` is 2025-12-30 11:30:00."""
    text = text.strip()
    day = date(int(text[:4]), int(text[4:6] or 1), int(text[6:8] or 1))
    return datetime.combine(day, _time(text[8:] or "00"))


def _bounds(text: str) -> tuple[str, str, bool]:
    if "-" not in text:
        return text, text, False
    low, high = text.split("-")
    return low.strip(), high.strip(), True


def _in_range(value: Any, low: Any, high: Any) -> bool:
    return (low is None or low <= value) and (high is None or value <= high)


def _wildcard(pattern: str, value: str, fold: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if fold else 0)) is not None


def key_matches(keyword: str, key: Any, stored: Any) -> bool:
    """One matching key against one stored value (``None``: the item has no value).

    A sequence key is a list of (at most) one item of keys, and its stored value a list of items.
    """
    tag = tag_for_keyword(keyword)
    vr = dictionary_VR(tag)
    if vr == "SQ":
        return _sequence_matches(key, stored)
    if vr in _TRIMMED:
        key = key.strip()
    if vr == "PN":
        key = key.rstrip("^ ")
    if key in ("", "*"):
        return True
    if stored is None or str(stored).strip() == "":
        return False
    stored = str(stored)
    values = stored.split("\\") if dictionary_VM(tag) != "1" else [stored]
    return any(_value_matches(vr, key, value) for value in values)


def _value_matches(vr: str, key: str, stored: str) -> bool:
    """A non-universal key against one stored value."""
    if vr == "UI":
        return stored.strip("\0 ") in {uid.strip("\0 ") for uid in key.split("\\")}
    if vr in ("DA", "TM", "DT"):
        parse = {"DA": _date, "TM": _time, "DT": _datetime}[vr]
        low, high, _ = _bounds(key)
        return _in_range(parse(stored), parse(low) if low else None, parse(high) if high else None)
    if vr in _NUMBERS:
        try:
            return Decimal(stored.strip()) == Decimal(key.strip())
        except InvalidOperation:
            return False
    value = stored.strip() if vr in _TRIMMED else stored
    if vr == "PN":
        value = value.rstrip("^ ")
    fold = vr == "PN"
    if "*" in key or "?" in key:
        return _wildcard(key, value, fold)
    return value.casefold() == key.casefold() if fold else value == key


def _universal(keys: dict[str, Any]) -> bool:
    """Whether every key of a sequence key's item (nested ones too) is universal."""
    return all(key_matches(k, v, None) for k, v in keys.items())


def _sequence_matches(key: list[dict[str, Any]], stored: list[dict[str, Any]] | None) -> bool:
    """C.2.2.2.6: some stored item matches every key of the query's item; an item of universal keys
    (or no item) is universal."""
    if not key or _universal(key[0]):
        return True
    return any(all(key_matches(k, v, item.get(k)) for k, v in key[0].items()) for item in stored or [])


def _start_matches(date_key: str, time_key: str, step: dict[str, Any]) -> bool:
    """SPS Start Date and Time; both ranges make one date-time interval (Table K.6-1, 0040,0003)."""
    date_key, time_key = date_key.strip(), time_key.strip()
    if "-" in date_key and "-" in time_key:
        (d1, d2, _), (t1, t2, _) = _bounds(date_key), _bounds(time_key)
        moment = datetime.combine(_date(step[START_DATE]), _time(step.get(START_TIME) or "00"))
        low = datetime.combine(_date(d1), _time(t1) if t1 else time.min) if d1 else None
        high = datetime.combine(_date(d2), _time(t2) if t2 else time.max) if d2 else None
        return _in_range(moment, low, high)
    return key_matches(START_DATE, date_key, step.get(START_DATE)) and key_matches(
        START_TIME, time_key, step.get(START_TIME)
    )


def item_matches(item: dict[str, Any], root: dict[str, Any], step_keys: dict[str, Any] | None) -> bool:
    """Whether the item answers a query with these root keys and (if any) this step item's keys."""
    if not all(key_matches(k, v, item.get(k)) for k, v in root.items()):
        return False
    if not step_keys:
        return True  # no sequence, a zero-length one or an empty item: universal (C.2.2.2.6)
    step = item[SPS][0]
    others = {k: v for k, v in step_keys.items() if k not in (START_DATE, START_TIME)}
    if not all(key_matches(k, v, step.get(k)) for k, v in others.items()):
        return False
    return _start_matches(step_keys.get(START_DATE, ""), step_keys.get(START_TIME, ""), step)


def expected_ids(items: list[dict[str, Any]], root: dict[str, Any], step_keys: dict[str, Any] | None) -> frozenset[str]:
    """The SPS IDs (stripped, as answers carry them) of every item that matches."""
    return frozenset(
        item[SPS][0]["ScheduledProcedureStepID"].strip() for item in items if item_matches(item, root, step_keys)
    )
