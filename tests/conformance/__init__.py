"""The DICOM conformance suite: a query table and property tests against Orthanc's matcher and wlmscpfs."""
