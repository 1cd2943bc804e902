"""The script Orthanc loads ("PythonScript"): it only hands the ``orthanc`` module to the core."""

import orthanc  # provided by the orthanc-python plugin at run time

from vetmwl.orthanc_wiring import register

register(orthanc)
