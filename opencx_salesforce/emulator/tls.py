"""HTTPS for the emulator: a small local certificate authority and a server
certificate it signs for loopback (``127.0.0.1``, ``::1``, ``localhost``).

Every real Salesforce instance is HTTPS and some clients only build ``https://``
URLs (simple-salesforce), so ``opencx-salesforce emulator --tls`` serves HTTPS with
this certificate. A client trusts it through the CA file, e.g. ``SSL_CERT_FILE``
(Python's ssl), ``REQUESTS_CA_BUNDLE`` (requests), ``NODE_EXTRA_CA_CERTS`` (Node:
the ``sf`` CLI and jsforce). The CA is kept in its directory and reused, so a
client told to trust it once keeps trusting it across restarts; the server
certificate is made afresh each start.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "emulator-ca.pem"
CA_KEY_FILE = "emulator-ca-key.pem"
CERT_FILE = "emulator-cert.pem"
KEY_FILE = "emulator-key.pem"

LOOPBACK_NAMES = ("localhost",)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
# Node and browsers refuse leaf certificates valid for more than ~398 days.
_LEAF_DAYS = 397
_CA_DAYS = 3650


@dataclass(frozen=True)
class LoopbackCertificate:
    """Where the files are: ``ca_file`` is the one clients trust."""

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA (for aiohttp/httpx clients in tests)."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(data)


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    ca_path, key_path = directory / CA_FILE, directory / CA_KEY_FILE
    if not (ca_path.exists() and key_path.exists()):
        return None
    cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc < now + datetime.timedelta(days=_LEAF_DAYS):
        return None
    return cert, key


def _new_ca(
    directory: Path, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "opencx-salesforce emulator local CA")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(directory / CA_KEY_FILE, _pem_key(key))
    (directory / CA_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def loopback_certificate(directory: Path) -> LoopbackCertificate:
    """The CA in ``directory`` (made if absent or near expiry) and a new server
    certificate it signs for the loopback names and addresses."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_cert, ca_key = _load_ca(directory) or _new_ca(directory, now)
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in LOOPBACK_NAMES]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in LOOPBACK_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(directory / KEY_FILE, _pem_key(key))
    (directory / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return LoopbackCertificate(
        directory=directory,
        ca_file=directory / CA_FILE,
        cert_file=directory / CERT_FILE,
        key_file=directory / KEY_FILE,
    )
