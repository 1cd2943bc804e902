"""The character sets answers are written in: UTF-8 (ISO_IR 192), or Latin-1 (ISO_IR 100) with the
text transliterated for devices that read nothing else.

Latin-1 cannot hold every name (山田, Dvořák, Παπαδόπουλος). Rather than let an encoder drop or
mangle such characters, letters with accents outside Latin-1 lose the accent (ř -> r), letters
already in Latin-1 stay (ü, é, ß), and anything else becomes '?', as PS3.5 6.1.2.3 suggests for
characters a repertoire lacks. Each changed value is logged once.
"""

from __future__ import annotations

import logging
import unicodedata

log = logging.getLogger("vetmwl.charset")

UTF8 = "ISO_IR 192"
LATIN1 = "ISO_IR 100"
#: Answer character sets (Specific Character Set terms) and the Python codec of each.
CODECS = {UTF8: "utf-8", LATIN1: "latin-1"}
#: At most this many distinct changed values are remembered for logging once each.
_LOGGED_MAX = 10_000
_logged: set[tuple[str, str]] = set()


def _latin1_char(char: str) -> str:
    if ord(char) < 256:
        return char
    decomposed = unicodedata.normalize("NFKD", char)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if ord(c) < 256 else "?" for c in kept) or "?"


def to_latin1(text: str) -> str:
    """``text`` in the Latin-1 repertoire: accents outside it dropped, other characters as '?'."""
    if text.isascii():
        return text
    return "".join(_latin1_char(c) for c in text)


def latin1_text(keyword: str, text: str) -> str:
    """:func:`to_latin1`, logging each changed value once (at INFO without the value, which may be
    a name; at DEBUG, seen only with Orthanc's --trace, with it)."""
    converted = to_latin1(text)
    if converted != text and (keyword, text) not in _logged:
        if len(_logged) >= _LOGGED_MAX:
            _logged.clear()
        _logged.add((keyword, text))
        replaced = sum(1 for a in converted if a == "?") - text.count("?")
        log.info(
            "%s transliterated for ISO_IR 100 (%d character(s) outside Latin-1, %d sent as '?')",
            keyword,
            sum(1 for c in text if ord(c) >= 256),
            replaced,
        )
        log.debug("%s transliterated for ISO_IR 100: %r -> %r", keyword, text, converted)
    return converted
