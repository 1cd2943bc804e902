"""SQL-backed DICOM Modality Worklist for Orthanc: the pure core.

Nothing in this package imports the ``orthanc`` module except through the object handed to
:func:`vetmwl.orthanc_wiring.register`, so every part is testable without Orthanc.
"""

__version__ = "0.1.0"
