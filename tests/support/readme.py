"""What README.md promises, read from it, so that the tests keep it true."""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_findscu_argv(today: date, readme: Path = README) -> list[str]:
    """The README's ``findscu -W`` example as argv, with today's date for ``$(date +%Y%m%d)``: from
    ``findscu -W`` to the end of its fenced block, line continuations joined, split as the shell would."""
    text = readme.read_text(encoding="utf-8")
    block = text[text.index("findscu -W -aec VETMWL") :].split("```")[0]
    return shlex.split(block.replace("$(date +%Y%m%d)", f"{today:%Y%m%d}").replace("\\\n", " "))


def readme_findscu_keys(today: date) -> list[str]:
    """The -k keys of the README's findscu example, with today's date."""
    words = readme_findscu_argv(today)
    return [words[n + 1] for n, word in enumerate(words) if word == "-k"]
