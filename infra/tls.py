"""A private certificate authority and one server certificate for the local services.

When Kafka or Redis run with TLS, their launcher asks :func:`ensure_certificates` for
``<state_dir>/tls/``: a CA certificate (``ca.pem``, what clients trust) and a server key and
certificate signed by it (``server.key``, ``server.pem``), valid for ``127.0.0.1``,
``localhost`` and the configured host. Both services share them, so one CA file serves every
client. The CA's private key is never written: nothing but this call can sign a certificate
for that CA, so the Kafka controller listener, which requires a certificate from it, admits
only the broker itself.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID as EKU
from cryptography.x509.oid import NameOID

VALID_DAYS = 825  # what browsers and most TLS stacks still accept for a leaf certificate
SERVER_CN = "streamscore-services"
# A CA certificate signs certificates (and revocation lists), nothing else.
_CA_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True, slots=True)
class Certificates:
    """Where the files are: ``ca`` for clients, ``key`` and ``cert`` for the servers."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def key(self) -> Path:
        return self.folder / "server.key"

    @property
    def keystore(self) -> Path:
        """The key and then the certificate in one PEM file (Kafka's PEM keystore)."""
        return self.folder / "server-keystore.pem"

    def complete(self) -> bool:
        return all(p.exists() for p in (self.ca, self.cert, self.key, self.keystore))


def ensure_certificates(folder: Path, host: str) -> Certificates:
    """The certificates under ``folder``, generated when any file is missing (then all are
    generated anew, so a CA never signs with a key it no longer has)."""
    certs = Certificates(folder)
    if certs.complete():
        return certs
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "streamscore local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_CN)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # Client auth too: the Kafka broker presents it to its own controller listener.
        .add_extension(
            x509.ExtendedKeyUsage([EKU.SERVER_AUTH, EKU.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(pem)
    _write(certs.key, key_pem, 0o600)
    _write(certs.keystore, key_pem + cert_pem, 0o600)
    _write(certs.cert, cert_pem, 0o644)
    _write(certs.ca, ca.public_bytes(pem), 0o644)  # written last: complete() means done
    return certs


def server_principal() -> str:
    """The Kafka principal of a connection that presents the server certificate."""
    return f"User:CN={SERVER_CN}"


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            names.append(x509.DNSName(host))
    else:
        if str(address) != "127.0.0.1":
            names.append(x509.IPAddress(address))
    return names


def _write(path: Path, data: bytes, mode: int) -> None:
    """Written with its final mode from the start: a key is never readable by others."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
