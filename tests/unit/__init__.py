"""Unit tests of the pure core: no Orthanc and no database server."""
