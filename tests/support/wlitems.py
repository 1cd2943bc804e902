"""Worklist items (the importer's JSON shape) as DICOM datasets, for the peers our plugin is compared with.

The reference Orthanc (tests/support/orthanc_reference_plugin.py) and dcmtk's wlmscpfs must serve
exactly the items our plugin reads from SQL. This module is the one conversion both use; it runs
in the test process and inside Orthanc's embedded Python, so it needs nothing but pydicom.

Values are written as the JSON gives them (``' 0042 '`` keeps its spaces), because padding is
part of what the peers are compared on; a key that is missing, ``null`` or empty is left out of the
item, as "unknown" is written in .wl files.
"""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
SPS = "ScheduledProcedureStepSequence"
#: Keys the importer accepts but does not store (see vetmwl.importer._IGNORED).
_NOT_STORED = {"SpecificCharacterSet", "ResponsiblePersonRole"}


def _fill(dataset: Dataset, keys: dict[str, Any]) -> None:
    for keyword, value in keys.items():
        if keyword in _NOT_STORED or keyword == SPS or value is None or value == "":
            continue
        setattr(dataset, keyword, str(value))


def item_dataset(item: dict[str, Any]) -> Dataset:
    """One item as a UTF-8 worklist dataset with its single Scheduled Procedure Step item."""
    dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 192"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd values are the point of some items; the importer checks them
        _fill(dataset, item)
        step = Dataset()
        _fill(step, item[SPS][0])
    dataset.ScheduledProcedureStepSequence = [step]
    return dataset


def item_bytes(item: dict[str, Any], number: int) -> bytes:
    """The item as a DICOM file (preamble, meta, Explicit VR Little Endian), as .wl files are."""
    dataset = item_dataset(item)
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = WORKLIST_FIND
    dataset.file_meta.MediaStorageSOPInstanceUID = f"2.25.{number + 1}"
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_wl_folder(items: list[dict[str, Any]], folder: Path) -> None:
    """The items as ``<folder>/<n>.wl`` (plus the ``lockfile`` wlmscpfs insists on), replacing old ones."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.wl"):
        old.unlink()
    (folder / "lockfile").touch()
    for number, item in enumerate(items):
        (folder / f"{number:04d}.wl").write_bytes(item_bytes(item, number))
