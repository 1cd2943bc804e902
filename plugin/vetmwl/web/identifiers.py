"""DICOM identifiers for people to read: what a modality asked, and answers as plain JSON.

The worklist page builds the same kind of identifier a modality sends (a DICOM file, as Orthanc
hands it to the plugin), so it goes through ``WorklistService.find`` exactly like a C-FIND, and it
reads the encoded answers back into flat dictionaries for the browser.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import lru_cache
from io import BytesIO

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ..kinds.universal import is_universal
from ..model import NEVER_MATCHED, PATIENT_KEYS, SPS_SEQUENCE, dictionary_vr
from ..values import put

#: Modality Worklist Information Model - FIND.
WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
#: The keys the worklist page asks for: those of the README's findscu example.
ROOT_KEYS = (
    "AccessionNumber",
    "ReferringPhysicianName",
    *PATIENT_KEYS,
    "StudyInstanceUID",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "StudyDescription",
)
STEP_KEYS = (
    "Modality",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription",
    "ScheduledProcedureStepID",
)
HIDDEN = "<given>"


def worklist_identifier(date: str = "", station: str = "", modality: str = "") -> bytes:
    """A C-FIND identifier for one day (a DICOM date or range), station and modality, as file bytes."""
    root = Dataset()
    root.SpecificCharacterSet = "ISO_IR 192"
    for keyword in ROOT_KEYS:
        put(root, keyword, "")
    step = Dataset()
    values = {"ScheduledProcedureStepStartDate": date, "ScheduledStationAETitle": station, "Modality": modality}
    for keyword in STEP_KEYS:
        put(step, keyword, values.get(keyword, ""))
    root.ScheduledProcedureStepSequence = [step]
    return file_bytes(root)


def file_bytes(dataset: Dataset) -> bytes:
    """``dataset`` as a DICOM file (preamble, file meta, Explicit VR Little Endian), as Orthanc hands
    the plugin a C-FIND identifier."""
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = WORKLIST_FIND
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _text(element: DataElement) -> str | None:
    """The element's value as DICOM text (multiple values joined by ``\\``), None for binary data."""
    value = element.value
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return None
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


def _read(raw: bytes) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(BytesIO(raw), force=True)


def _walk(dataset: Dataset) -> list[tuple[str, str]]:
    """(keyword, text) of the root and of the first SPS item, in tag order."""
    pairs: list[tuple[str, str]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for element in dataset:
            if element.tag.group == 0x0002 or not element.keyword:
                continue
            if element.VR == "SQ":
                if element.keyword == SPS_SEQUENCE and element.value:
                    pairs += _walk(element.value[0])
                continue
            text = _text(element)
            if text is not None:
                pairs.append((element.keyword, text))
    return pairs


@lru_cache(maxsize=1024)
def describe_identifier(raw: bytes) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """What a modality asked: (matching keys with their values, the other requested keys).

    Step keys are flattened next to the root keys. Cached, as the query log page asks again and
    again for the same records. An unreadable identifier gives nothing rather than an error.
    """
    try:
        pairs = _walk(_read(raw))
    except Exception:
        return (), ()
    kept = [(k, v) for k, v in pairs if k not in NEVER_MATCHED]
    matching = tuple((k, v) for k, v in kept if not _universal(k, v))
    requested = tuple(k for k, v in kept if _universal(k, v))
    return matching, requested


def _universal(keyword: str, text: str) -> bool:
    """Whether a key matches everything, as the service reads it (PS3.4 C.2.2.2.3)."""
    return is_universal(text.strip(" "), dictionary_vr(keyword, "") or "")


def answer_fields(raw: bytes) -> dict[str, str]:
    """One encoded worklist answer as ``{keyword: text}``, step keys flattened next to the root keys."""
    return {k: v for k, v in _walk(_read(raw)) if k != "SpecificCharacterSet"}


@lru_cache(maxsize=512)
def is_person_name(keyword: str) -> bool:
    """Whether the keyword's VR is PN (cached: the INFO line of every C-FIND asks)."""
    try:
        return dictionary_VR(keyword) == "PN"
    except (KeyError, ValueError):
        return False


def mask_person_names(keys: Mapping[str, object]) -> dict[str, object]:
    """The keys with every person name (patient, owner, physician) replaced, for the INFO log."""
    return {k: HIDDEN if is_person_name(k) else v for k, v in keys.items()}
