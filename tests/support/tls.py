"""Certificates for the DICOM TLS tests, made with the ``openssl`` command as a site would: a CA that
signs the server's certificate (for 127.0.0.1) and a modality's, and a stranger's self-signed one.

The server's files are what Orthanc's ``DicomTlsCertificate``, ``DicomTlsPrivateKey`` and
``DicomTlsTrustedCertificates`` name; :func:`client_context` is a modality's side.
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_certificate: Path
    server_key: Path
    client_certificate: Path
    client_key: Path
    #: Self-signed, so the CA does not vouch for it.
    stranger_certificate: Path
    stranger_key: Path

    def orthanc(self, required: bool = True) -> dict[str, object]:
        """Orthanc's DICOM TLS settings for these files."""
        return {
            "DicomTlsEnabled": True,
            "DicomTlsCertificate": str(self.server_certificate),
            "DicomTlsPrivateKey": str(self.server_key),
            "DicomTlsTrustedCertificates": str(self.ca),
            "DicomTlsRemoteCertificateRequired": required,
        }


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _signed(folder: Path, name: str, subject: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, request, certificate = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.crt"
    extfile = folder / f"{name}.ext"
    extfile.write_text(extensions)
    _openssl(
        "req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", str(key), "-out", str(request), "-subj", subject
    )
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", str(extfile), "-out", str(certificate),
    )  # fmt: skip
    return certificate, key


def make_pki(folder: Path) -> Pki:
    """A CA, the server's and a modality's certificates signed by it, and a stranger's."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.crt", folder / "ca.key"
    _openssl(
        "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "2", "-keyout", str(ca_key), "-out", str(ca),
        "-subj", "/CN=vetmwl test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    server = _signed(
        folder, "server", "/CN=127.0.0.1", (ca, ca_key), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    client = _signed(folder, "dx-room1", "/CN=DX_ROOM1", (ca, ca_key), "extendedKeyUsage=clientAuth\n")
    stranger, stranger_key = folder / "stranger.crt", folder / "stranger.key"
    _openssl(
        "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "2", "-keyout", str(stranger_key),
        "-out", str(stranger), "-subj", "/CN=STRANGER",
    )  # fmt: skip
    return Pki(ca, *server, *client, stranger, stranger_key)


def client_context(pki: Pki, own: bool | None = True) -> ssl.SSLContext:
    """A modality's TLS side: it trusts the CA and shows its certificate (``own`` True), the
    stranger's (False) or none (None)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    if own is True:
        context.load_cert_chain(str(pki.client_certificate), str(pki.client_key))
    elif own is False:
        context.load_cert_chain(str(pki.stranger_certificate), str(pki.stranger_key))
    return context
