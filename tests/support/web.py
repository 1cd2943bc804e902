"""HTTP for the tests: the plugin's REST routes through Orthanc, with or without credentials."""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def get(port: int, path: str, auth: tuple[str, str] | None = None, **args: str) -> Reply:
    """GET ``path`` on Orthanc's HTTP port; an HTTP error is a reply too, not an exception."""
    url = f"http://127.0.0.1:{port}{path}"
    if args:
        url += "?" + urllib.parse.urlencode(args)
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.headers.get("Content-Type", ""), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers.get("Content-Type", ""), error.read())


@contextlib.contextmanager
def credentials_for_urllib(port: int, user: str, password: str) -> Iterator[None]:
    """Let plain ``urlopen`` calls (OrthancServer.start polls /system) log in to an Orthanc with users."""
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, f"http://127.0.0.1:{port}/", user, password)
    urllib.request.install_opener(urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager)))
    try:
        yield
    finally:
        urllib.request.install_opener(None)  # type: ignore[arg-type]
