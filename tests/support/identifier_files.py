"""Build C-FIND identifiers (``vetmwl.web.identifiers.file_bytes`` makes them the file bytes Orthanc hands over)."""

from __future__ import annotations

import warnings
from typing import Any

from pydicom.dataset import Dataset


def identifier(step: dict[str, Any] | list[dict[str, Any]] | None = None, **root: Any) -> Dataset:
    """A worklist identifier: root keys as keywords, ``step`` as the SPS item (or a list of items).

    Values are set without pydicom's value validation, so malformed queries can be built too.
    """
    dataset = Dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword, value in root.items():
            setattr(dataset, keyword, value)
        if step is not None:
            items = []
            for keys in [step] if isinstance(step, dict) else step:
                item = Dataset()
                for keyword, value in keys.items():
                    setattr(item, keyword, value)
                items.append(item)
            dataset.ScheduledProcedureStepSequence = items
    return dataset
