"""A Python plugin script that writes the orthanc module's API to $VETMWL_API_DUMP, as JSON.

tests/matrix/test_orthanc_api.py loads it in each Orthanc of the matrix and compares the names
with what the plugin calls and what the fake ``orthanc`` module offers.
"""

import json
import os

import orthanc

CLASSES = ("WorklistAnswers", "WorklistQuery", "RestOutput", "DicomConnection", "ChangeType", "ResourceType")
api = {"module": sorted(n for n in dir(orthanc) if not n.startswith("_"))}
for name in CLASSES:
    if hasattr(orthanc, name):
        api[name] = sorted(n for n in dir(getattr(orthanc, name)) if not n.startswith("_"))
api["ChangeTypeValues"] = {n: int(getattr(orthanc.ChangeType, n)) for n in api.get("ChangeType", [])}
with open(os.environ["VETMWL_API_DUMP"], "w", encoding="utf-8") as out:
    json.dump(api, out)
