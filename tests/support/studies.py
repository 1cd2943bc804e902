"""A small DICOM image a modality would store, and dcmtk's storescu to send it to Orthanc."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

#: Digital X-Ray Image Storage - For Presentation.
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def dx_image(path: Path, study_uid: str, accession: str, patient_id: str, patient_name: str = "Test^Dog") -> Path:
    """A 4x4 DX image of the given study, written as a DICOM file at ``path``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = DX_IMAGE
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DX_IMAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.AccessionNumber = accession
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.Modality = "DX"
    ds.StudyDate, ds.StudyTime = "20260105", "093000"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Rows, ds.Columns = 4, 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(16)
    ds.save_as(path, enforce_file_format=True)
    return path


def storescu(port: int, *files: Path, aet: str = "DX_ROOM1", aec: str = "VETMWL") -> None:
    """Send ``files`` to the DICOM port as a modality does; raises when storescu fails."""
    subprocess.run(
        ["storescu", "-aet", aet, "-aec", aec, "127.0.0.1", str(port), *map(str, files)],
        check=True,
        capture_output=True,
        timeout=60,
    )
