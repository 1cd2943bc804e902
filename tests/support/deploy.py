"""Read the deployment files as Docker and the orthancteam image would, without either of them."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "docker-compose.yml"
ENV_EXAMPLE = REPO / "docker" / ".env.example"
#: The settings of Orthanc's Python plugin (Debian's /etc/orthanc/python.json defines both).
PYTHON_PLUGIN_KEYS = {"PythonScript", "PythonVerbose"}


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        word, _, rest = text.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def dockerfile_env(path: Path = DOCKERFILE) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions(path):
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def dockerfile_copies(path: Path = DOCKERFILE) -> list[tuple[list[str], str]]:
    """(sources relative to the build context, destination in the image) of each COPY."""
    copies = []
    for word, rest in dockerfile_instructions(path):
        if word == "COPY":
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            copies.append((parts[:-1], parts[-1]))
    return copies


def image_path_to_repo(image_path: str, context: Path = REPO) -> Path | None:
    """The repository file that a COPY puts at ``image_path``, or None when no COPY does."""
    for sources, dest in dockerfile_copies():
        for source in sources:
            if dest.endswith("/") and image_path.startswith(dest):
                rest = image_path[len(dest) :]
                if source.endswith("/"):
                    return context / source / rest
                if rest == Path(source).name:
                    return context / source
            if image_path == dest:
                return context / source
    return None


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (and ``$$`` for ``$``)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in variables and variables[name] != "":
            return variables[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    text = re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, text)
    return text.replace("$$", "$")


def env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def compose(variables: dict[str, str] | None = None) -> dict[str, Any]:
    """docker-compose.yml parsed with PyYAML, after compose's variable interpolation."""
    text = COMPOSE.read_text(encoding="utf-8")
    return yaml.safe_load(interpolate(text, env_file() if variables is None else variables))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v) for k, v in env.items()}


def strip_json_comments(text: str) -> str:
    """Orthanc's configuration files are JSON with // and /* */ comments; drop them, not strings."""
    pattern = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
    return pattern.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)


def read_orthanc_json(path: Path) -> dict[str, Any]:
    return json.loads(strip_json_comments(path.read_text(encoding="utf-8")))


@cache
def orthanc_default_settings() -> frozenset[str]:
    """Every top-level setting Orthanc knows, from the default configuration it writes itself."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "default.json"
        subprocess.run(["Orthanc", f"--config={path}"], check=True, capture_output=True)
        return frozenset(read_orthanc_json(path))


@cache
def init_demo_db() -> ModuleType:
    """docker/init_demo_db.py (the compose stack's init container, not a package), loaded once."""
    spec = importlib.util.spec_from_file_location("init_demo_db", REPO / "docker" / "init_demo_db.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
