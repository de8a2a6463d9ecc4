"""Throwaway TLS material for the simulated arrays: a private CA and a server certificate it signs.

The certificate names 127.0.0.1, ::1 and localhost, so a client that verifies against the CA
(and checks the host name, as every client must) accepts the simulator at an IP address as
readily as at a name.  Each directory gets a CA of its own: material generated in another
directory is *untrusted* by this one's CA bundle, which is how tests provoke a TLS failure.

Keys are ECDSA P-256 (generated in a millisecond, unlike RSA), certificates short-lived.
"""

import ipaddress
import os
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAMES = ("127.0.0.1", "::1", "localhost")
CLOCK_SKEW = timedelta(minutes=5)  # certificates start slightly in the past, as issuers do

_generated: dict[Path, "TlsMaterial"] = {}
_generated_lock = threading.Lock()


@dataclass(frozen=True)
class TlsMaterial:
    ca_bundle: Path  # PEM of the CA certificate: what a client trusts
    cert_file: Path  # PEM of the server certificate
    key_file: Path  # PEM of the server's private key (mode 0600)

    @classmethod
    def generate(cls, directory: Path, valid_for: timedelta = timedelta(days=2)) -> "TlsMaterial":
        """A CA and a server certificate written under `directory` (created if needed).

        Generated once per directory and process; later calls return the same material."""
        directory = Path(directory).resolve()
        with _generated_lock:
            if directory not in _generated:
                _generated[directory] = cls._write(directory, valid_for)
            return _generated[directory]

    @classmethod
    def _write(cls, directory: Path, valid_for: timedelta) -> "TlsMaterial":
        directory.mkdir(parents=True, exist_ok=True)
        not_before = datetime.now(UTC) - CLOCK_SKEW
        not_after = not_before + CLOCK_SKEW + valid_for

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Simulated array CA {directory.name}")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(signs_certificates=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        server_key = ec.generate_private_key(ec.SECP256R1())
        server_cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(server_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(_subject_alt_names()), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signs_certificates=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )

        material = cls(
            ca_bundle=directory / "ca.pem",
            cert_file=directory / "server.pem",
            key_file=directory / "server-key.pem",
        )
        material.ca_bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        material.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
        key_pem = server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        descriptor = os.open(material.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as key_out:
            key_out.write(key_pem)
        return material

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the certificate (TLS 1.2 or newer)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side context that trusts only this material's CA (host names checked)."""
        return ssl.create_default_context(cafile=str(self.ca_bundle))


def _subject_alt_names() -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for name in SERVER_NAMES:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    return names


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )
