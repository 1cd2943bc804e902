"""Orthanc's own worklist matcher as a reference SCP: answers exactly the items WorklistIsMatch accepts.

Loaded by Orthanc as its PythonScript (never imported by the tests). Items come from the JSON file
named by ``ReferenceWorklist.ItemsFile`` in Orthanc's configuration, in the importer's shape; each is
encoded once with tests/support/wlitems.py, the same conversion that writes wlmscpfs's .wl files.
``POST /reference/items`` with a JSON array replaces them (the property tests change items per
example); ``GET /reference/items`` returns how many are loaded.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import orthanc

from support.wlitems import item_bytes

_lock = threading.Lock()
_items: list[bytes] = []


def _load(items: list[dict[str, Any]]) -> None:
    encoded = [item_bytes(item, number) for number, item in enumerate(items)]
    with _lock:
        _items[:] = encoded


def on_worklist(answers: Any, query: Any, issuer_aet: str, called_aet: str) -> None:
    """Every item Orthanc's matcher accepts, in file order; Orthanc then extracts the requested keys."""
    with _lock:
        items = list(_items)
    for raw in items:
        if query.WorklistIsMatch(raw):
            answers.WorklistAddAnswer(query, raw)


def on_items(output: Any, uri: str, **request: Any) -> None:
    if request["method"] == "POST":
        _load(json.loads(request["body"]))
    elif request["method"] != "GET":
        output.SendMethodNotAllowed("GET,POST")
        return
    with _lock:
        count = len(_items)
    output.AnswerBuffer(json.dumps({"items": count}), "application/json")


_settings = json.loads(orthanc.GetConfiguration()).get("ReferenceWorklist", {})
if _settings.get("ItemsFile"):
    with open(_settings["ItemsFile"], encoding="utf-8") as _file:
        _load(json.load(_file))
orthanc.RegisterWorklistCallback(on_worklist)
orthanc.RegisterRestCallback("/reference/items", on_items)
orthanc.LogWarning(f"reference worklist: {len(_items)} item(s) loaded")
