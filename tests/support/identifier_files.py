"""Build C-FIND identifiers the way Orthanc hands them to the plugin: as DICOM file bytes."""

from __future__ import annotations

import warnings
from io import BytesIO
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

#: Modality Worklist Information Model - FIND.
WORKLIST_FIND = "1.2.840.10008.5.1.4.31"


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


def file_bytes(dataset: Dataset) -> bytes:
    """``dataset`` as a DICOM file (preamble, file meta, Explicit VR Little Endian)."""
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = WORKLIST_FIND
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
