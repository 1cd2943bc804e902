"""The ``orthanc`` module of every Orthanc in the matrix against what the plugin calls and what the
fake of tests/support offers, so that neither calls nor fakes a function that does not exist.

What the plugin calls is read from the wiring's source: every ``orthanc.X``, and every method called
on the objects Orthanc hands to its callbacks (``answers``, ``query``, ``connection``, ``output``).
A name the wiring checks with ``hasattr(orthanc, ...)`` may be missing from some versions, but must
exist in one of them.
"""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest

from matrix.conftest import MATRIX
from support import fake_orthanc
from support.runtimes import REPO, Runtime
from support.servers import OrthancServer

WIRING = REPO / "plugin" / "vetmwl" / "orthanc_wiring.py"
#: The callback arguments of the wiring, and the orthanc class each one is.
ARGUMENTS = {
    "answers": "WorklistAnswers",
    "query": "WorklistQuery",
    "connection": "DicomConnection",
    "output": "RestOutput",
}
FAKES = {
    "module": fake_orthanc.FakeOrthanc,
    "WorklistAnswers": fake_orthanc.FakeAnswers,
    "WorklistQuery": fake_orthanc.FakeQuery,
    "DicomConnection": fake_orthanc.FakeConnection,
    "RestOutput": fake_orthanc.FakeOutput,
}
_APIS: dict[str, dict[str, list[str]]] = {}


def plugin_calls() -> tuple[dict[str, set[str]], set[str]]:
    """(names used per orthanc class, names only used behind ``hasattr(orthanc, ...)``)."""
    used: dict[str, set[str]] = {"module": set(), **{kind: set() for kind in ARGUMENTS.values()}}
    optional: set[str] = set()
    for node in ast.walk(ast.parse(WIRING.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "orthanc":
                used["module"].add(node.attr)
            elif node.value.id in ARGUMENTS and node.attr[0].isupper():
                used[ARGUMENTS[node.value.id]].add(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hasattr":
            target, name = node.args
            if isinstance(target, ast.Name) and target.id == "orthanc" and isinstance(name, ast.Constant):
                optional.add(name.value)
    return used, optional


def real_api(runtime: Runtime, workdir: Path) -> dict[str, list[str]]:
    if runtime.name not in _APIS:
        dump = workdir / "api.json"
        script = str(REPO / "tests" / "support" / "orthanc_api_dump.py")
        server = OrthancServer(
            workdir,
            None,
            runtime=runtime,
            environment={"VETMWL_API_DUMP": str(dump)},
            PythonScript=script,
            Python={"Path": script},
        ).start(timeout=60)
        deadline = time.monotonic() + 10
        while not dump.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.stop() == 0
        _APIS[runtime.name] = json.loads(dump.read_text())
    return _APIS[runtime.name]


def test_the_plugin_calls_only_what_this_orthanc_python_has(orthanc_runtime: Runtime, tmp_path: Path) -> None:
    api = real_api(orthanc_runtime, tmp_path)
    used, optional = plugin_calls()
    assert {"RegisterWorklistCallback", "WorklistAddAnswer", "WorklistGetDicomQuery"} <= set().union(*used.values())
    for kind, names in used.items():
        missing = {n for n in names if n not in api.get(kind, []) and n not in optional}
        if kind == "DicomConnection" and kind not in api:
            assert "RegisterWorklistCallback2" not in api["module"]  # only reached through that callback
            continue
        assert not missing, f"{orthanc_runtime.name}: orthanc.{kind} lacks {sorted(missing)}"
    assert api["ChangeTypeValues"]["ORTHANC_STOPPED"] == fake_orthanc.ChangeType.ORTHANC_STOPPED


def test_the_fake_offers_only_what_a_real_orthanc_python_has(orthanc_runtime: Runtime, tmp_path: Path) -> None:
    """Each version's fake (``api``) offers a subset of that version's module; run per runtime."""
    api = real_api(orthanc_runtime, tmp_path)
    has_callback2 = "RegisterWorklistCallback2" in api["module"]
    fake = fake_orthanc.FakeOrthanc({}, api=7 if has_callback2 else 4)
    offered = {n for n in dir(fake) if n[0].isupper() and hasattr(fake, n) and callable(getattr(fake, n))}
    assert offered <= set(api["module"]), f"the fake invents {sorted(offered - set(api['module']))}"
    for kind, cls in FAKES.items():
        if kind == "module" or kind not in api:
            continue
        methods = {n for n in dir(cls) if n[0].isupper()}
        assert methods <= set(api[kind]), f"the fake {kind} invents {sorted(methods - set(api[kind]))}"
    fake_values = {n: v for n, v in vars(fake_orthanc.ChangeType).items()}
    assert fake_values == api["ChangeTypeValues"]


@pytest.mark.parametrize("name", sorted(plugin_calls()[1]))
def test_every_optional_call_exists_somewhere(name: str) -> None:
    """A feature the wiring detects must exist in some orthanc-python, or its branch is dead code."""
    known = {n for api in _APIS.values() for n in api["module"]}
    if set(_APIS) != set(MATRIX) or len(MATRIX) < 3:
        pytest.skip("needs the whole matrix (its per-runtime tests read the real modules first)")
    assert name in known, f"no Orthanc of the matrix has orthanc.{name}"
