"""The kinds of matching of PS3.4 C.2.2.2, one module each, every rule of a kind in its module.

==================  ===================  ======================================================
PS3.4               module               filter types
==================  ===================  ======================================================
C.2.2.2.1           :mod:`.single`       :class:`Equals`
C.2.2.2.2           :mod:`.uid_list`     :class:`InList`
C.2.2.2.3           :mod:`.universal`    (none: a universal key filters nothing)
C.2.2.2.4           :mod:`.wildcard`     :class:`Like`
C.2.2.2.5           :mod:`.ranges`       :class:`Range`, :class:`TimeOfDay`
C.2.2.2.6           :mod:`.sequence`     :class:`ItemMatch`
==================  ===================  ======================================================

Every filter has the methods of :class:`.base.Kind`; the service, the renderer and the answer
writer call those, never asking which kind a filter is.
"""

from __future__ import annotations

from .base import Kind, Value, person_name_upper
from .ranges import Range, TimeOfDay
from .sequence import ItemMatch
from .single import Equals
from .uid_list import InList
from .wildcard import Like

Filter = Equals | Like | Range | TimeOfDay | InList | ItemMatch

__all__ = [
    "Equals",
    "Filter",
    "InList",
    "ItemMatch",
    "Kind",
    "Like",
    "Range",
    "TimeOfDay",
    "Value",
    "person_name_upper",
]
