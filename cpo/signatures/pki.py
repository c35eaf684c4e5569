"""A throwaway test PKI: a CA, the platform's seal, funder certificates (valid, expired, revoked),
a time-stamping authority (RFC 3161, extended key usage timeStamping) and the CA's revocation list,
generated with `cryptography` at run time. For tests and the demo
only: its private keys are written next to the certificates, protected by a passphrase everybody
knows (TEST_PKI_PASSPHRASE). Never configure it in production."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEST_PKI_PASSPHRASE = "pki-de-test-pluriel"
# Never fetched: validation gets the CRL from a local file. Declared so validators know where the
# revocation status of these certificates is published.
CRL_URL = "http://pki.pluriel.invalid/ca.crl"


@dataclass(frozen=True)
class ThrowawayPki:
    """Where each file of a generated test PKI is."""

    directory: Path
    ca: Path
    crl: Path
    seal: Path
    funder: Path
    expired: Path
    revoked: Path
    tsa: Path
    passphrase: str = TEST_PKI_PASSPHRASE

    @classmethod
    def at(cls, directory: Path) -> ThrowawayPki:
        return cls(
            directory=directory,
            ca=directory / "ca.pem",
            crl=directory / "ca.crl",
            seal=directory / "sceau-plateforme.p12",
            funder=directory / "financeur.p12",
            expired=directory / "financeur-expire.p12",
            revoked=directory / "financeur-revoque.p12",
            tsa=directory / "horodatage.p12",
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pluriel — PKI de test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _leaf(
    common_name: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    *,
    time_stamping: bool = False,
) -> tuple[PrivateKey, x509.Certificate]:
    # pyHanko's in-process time-stamping authority signs with RSA only.
    key: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if time_stamping
        else ec.generate_private_key(ec.SECP256R1())
    )
    # RFC 3161 §2.3: a TSA certificate has the single, critical, extended key usage timeStamping.
    usage = x509.ExtendedKeyUsage(
        [
            ExtendedKeyUsageOID.TIME_STAMPING
            if time_stamping
            else ExtendedKeyUsageOID.EMAIL_PROTECTION
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(usage, critical=time_stamping)
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(CRL_URL)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_p12(
    path: Path,
    name: str,
    key: PrivateKey,
    cert: x509.Certificate,
    ca_cert: x509.Certificate,
) -> None:
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            name.encode(),
            key,
            cert,
            [ca_cert],
            serialization.BestAvailableEncryption(TEST_PKI_PASSPHRASE.encode()),
        )
    )


def make_test_pki(directory: Path, *, now: datetime.datetime | None = None) -> ThrowawayPki:
    """Generate the whole test PKI into `directory` (created if missing) and say where it is."""
    now = now or datetime.datetime.now(datetime.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    pki = ThrowawayPki.at(directory)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Pluriel — autorité de test")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=3 * 365))
        .not_valid_after(now + datetime.timedelta(days=10 * 365))
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
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    valid_from, valid_to = now - datetime.timedelta(days=30), now + datetime.timedelta(days=3 * 365)
    leaves = {
        pki.seal: ("Pluriel — cachet de la plateforme (test)", valid_from, valid_to),
        pki.funder: ("Financeur — signataire habilité (test)", valid_from, valid_to),
        pki.expired: (
            "Financeur — certificat expiré (test)",
            now - datetime.timedelta(days=2 * 365),
            now - datetime.timedelta(days=365),
        ),
        pki.revoked: ("Financeur — certificat révoqué (test)", valid_from, valid_to),
    }
    # A time-stamping authority's certificate outlives the signatures it dates (10 years here):
    # a timestamp keeps a signature provable after the signer's own certificate has expired.
    leaves[pki.tsa] = (
        "Pluriel — autorité d'horodatage (test)",
        valid_from,
        now + datetime.timedelta(days=10 * 365 - 1),
    )
    revoked_serial = 0
    for path, (name, start, end) in leaves.items():
        key, cert = _leaf(name, ca_key, ca_cert, start, end, time_stamping=path == pki.tsa)
        _write_p12(path, name, key, cert, ca_cert)
        if path == pki.revoked:
            revoked_serial = cert.serial_number
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_name)
        .last_update(now - datetime.timedelta(days=1))
        .next_update(now + datetime.timedelta(days=3 * 365))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revoked_serial)
            .revocation_date(now - datetime.timedelta(days=10))
            .build()
        )
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki.crl.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return pki
