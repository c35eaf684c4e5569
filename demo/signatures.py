"""The electronic signature in the demo: a throwaway test PKI (cpo/signatures/pki.py) written next
to the demo's files, a certificate for every funder, and the signing powers — each association's
member signs for it, each committee member signs for their funder — so `make run` shows the
signing flow on a draft agreement (« Envoyer pour signature » as the instructor)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from core.models import Funder, Membership, RoleAssignment
from cpo.models import FunderCertificate
from cpo.signatures.pki import ThrowawayPki, make_test_pki
from demo.context import Context

DEMO_PASSPHRASE_KEY = "DEMO"


def demo_pki_dir() -> Path:
    """Where the demo's test PKI lives (config/settings/dev.py points the signature settings at
    it)."""
    base = Path(getattr(settings, "DEMO_OUTPUT_DIR", Path(settings.BASE_DIR) / "demo-output"))
    return base / "test-pki"


def load_signing(ctx: Context) -> bool:
    """Generate the PKI once, then the certificates and signing powers (idempotent)."""
    directory = demo_pki_dir()
    pki = ThrowawayPki.at(directory)
    # A PKI written before the time-stamping authority existed is written again in full.
    created = not (pki.crl.exists() and pki.tsa.exists())
    if created:
        make_test_pki(directory)
    for funder in Funder.objects.all():
        FunderCertificate.objects.update_or_create(
            funder=funder,
            defaults={"pkcs12_path": str(pki.funder), "passphrase_key": DEMO_PASSPHRASE_KEY},
        )
    Membership.objects.filter(
        organisation__in=[org.pk for org in ctx.organisations], is_admin=True
    ).update(can_sign=True)
    RoleAssignment.objects.filter(funder__isnull=False).update(can_sign=True)
    return created
