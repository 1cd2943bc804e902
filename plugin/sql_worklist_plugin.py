"""The script Orthanc loads ("PythonScript"): it only hands the ``orthanc`` module to the core,
with where the SQL templates are: the ``sql`` folder beside this script's ``plugin`` folder, as
every installation copies them (a checkout, /opt/vetmwl, the Docker image)."""

from pathlib import Path

import orthanc  # provided by the orthanc-python plugin at run time

from vetmwl.orthanc_wiring import register

register(orthanc, sql_folder=Path(__file__).resolve().parent.parent / "sql")
