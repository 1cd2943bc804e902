"""Worklist items (the importer's JSON shape) as DICOM datasets, for the peers our plugin is compared with.

The reference Orthanc (tests/support/orthanc_reference_plugin.py) and dcmtk's wlmscpfs must serve
exactly the items our plugin reads from SQL. This module is the one conversion both use; it runs
in the test process and inside Orthanc's embedded Python, so it needs nothing but pydicom.

It keeps what ``vetmwl.tools.importer`` keeps, whatever column or catch-all the importer puts it in:

- every public attribute, root and step, as a keyword (or a tag ``gggg,eeee``) with its
  dictionary VR; Responsible Person Role too (the importer stores it in its own column);
- a value that is missing, ``null`` or empty is left out, as "unknown" is written in .wl files (the
  importer stores nothing for it); Specific Character Set is not taken from the item (the importer
  drops it), every dataset is written in UTF-8;
- several values are one text separated by backslashes (``Bites\\Epilepsy``), as in the JSON;
- a number (``0.450`` or ``0.45`` for a DS) is written as the JSON gives it: the importer keeps the
  number, and our answers carry it by value (``0.45``), so the text a peer compares is the item's;
- a sequence is a list of items, each converted the same way, nested to any depth; an empty list
  is left out (the importer stores no sequence), an item whose keys are all unknown stays, empty.

Values are written as the JSON gives them (``' 0042 '`` keeps its spaces), because padding is
part of what the peers are compared on: the importer strips it, so our database holds ``0042``.
"""

from __future__ import annotations

import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
SPS = "ScheduledProcedureStepSequence"
#: Keys the importer accepts but does not store (vetmwl.tools.importer._NOT_STORED): the JSON is Unicode.
_NOT_STORED = {"SpecificCharacterSet"}


def _tag(key: str) -> int:
    """The tag of a keyword, or of a tag written ``gggg,eeee`` (as the importer accepts it)."""
    tag = tag_for_keyword(key)
    if tag is None:
        tag = int(key.strip().strip("()").replace(",", ""), 16)
    return tag


def _unknown(value: Any) -> bool:
    return value is None or value == "" or value == []


def _fill(dataset: Dataset, keys: dict[str, Any]) -> None:
    """The known keys of one item (root, step or sequence item), each with its dictionary VR."""
    for key, value in keys.items():
        if key in _NOT_STORED or key == SPS or _unknown(value):
            continue
        tag = _tag(key)
        vr = dictionary_VR(tag).split(" or ")[0]
        if vr == "SQ":
            dataset.add(DataElement(tag, vr, Sequence([_item(i) for i in value])))
        else:
            dataset.add(DataElement(tag, vr, str(value)))


def _item(keys: dict[str, Any]) -> Dataset:
    item = Dataset()
    _fill(item, keys)
    return item


def item_dataset(item: dict[str, Any]) -> Dataset:
    """One item as a UTF-8 worklist dataset with its single Scheduled Procedure Step item."""
    dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 192"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd values are the point of some items; the importer checks them
        _fill(dataset, item)
        step = _item(item[SPS][0])
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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
