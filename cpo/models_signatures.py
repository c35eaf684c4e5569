"""Electronic signature of an agreement's documents (docs/domain.md §10,
docs/decisions/2026-12-07-electronic-signature.md): the document frozen when sent for signature,
the ordered signatures it requires, the one-time codes of the association's signature, and each
funder's signing certificate."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from core.models import Funder
from core.uploads import private_upload_path

from .models import Agreement, Amendment


def signature_upload_to(instance: SignatureRequest, filename: str) -> str:
    return private_upload_path("signatures", instance.agreement_id, filename)


class SignatureRequestState(models.TextChoices):
    PENDING = "pending", _("En attente des signatures")
    COMPLETED = "completed", _("Signé par toutes les parties")
    INVALIDATED = "invalidated", _("Annulée (document modifié depuis l'envoi)")


class SignatureState(models.TextChoices):
    PENDING = "pending", _("À signer")
    SIGNED = "signed", _("Signée")


class SignatureParty(models.TextChoices):
    ORGANISATION = "organisation", _("Représentant·e légal·e de l'association")
    FUNDER = "funder", _("Signataire habilité·e du financeur")


class DocumentKind(models.TextChoices):
    AGREEMENT = "agreement", _("Convention")
    NOTIFICATION = "notification", _("Lettre de notification")
    AMENDMENT = "amendment", _("Avenant")


class SignatureRequest(models.Model):
    """A document sent for signature: its bytes frozen (SHA-256) when sent, then each signature
    added as an incremental update of the PDF (PAdES), in order."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="signature_requests"
    )
    amendment = models.ForeignKey(
        Amendment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="signature_requests",
        verbose_name=_("avenant"),
    )
    document_kind = models.CharField(_("document"), max_length=20, choices=DocumentKind.choices)
    state = FSMField(
        _("état"),
        default=SignatureRequestState.PENDING,
        choices=SignatureRequestState.choices,
        protected=True,
    )
    filename = models.CharField(_("nom du fichier"), max_length=200)
    document_sha256 = models.CharField(_("empreinte SHA-256 du document envoyé"), max_length=64)
    original = models.FileField(_("document envoyé"), upload_to=signature_upload_to)
    signed = models.FileField(_("document signé"), upload_to=signature_upload_to, blank=True)
    signed_sha256 = models.CharField(
        _("empreinte SHA-256 du document signé"), max_length=64, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("envoyé le"))
    completed_at = models.DateTimeField(_("signé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("demande de signature")
        verbose_name_plural = _("demandes de signature")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.agreement.reference} — {self.get_document_kind_display()}"

    @transition(field=state, source=SignatureRequestState.PENDING, target="completed")
    def complete(self) -> None:
        """Every required signature is present and valid."""

    @transition(field=state, source=SignatureRequestState.PENDING, target="invalidated")
    def invalidate(self) -> None:
        """The document changed since it was sent: the request can no longer be signed."""


class Signature(models.Model):
    """One required signature of a request, in its order: who signed, when, from where, and the
    document's hash before and after."""

    request = models.ForeignKey(
        SignatureRequest, on_delete=models.CASCADE, related_name="signatures"
    )
    position = models.PositiveSmallIntegerField(_("ordre"))
    party = models.CharField(_("partie"), max_length=20, choices=SignatureParty.choices)
    funder = models.ForeignKey(
        Funder, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = FSMField(
        _("état"), default=SignatureState.PENDING, choices=SignatureState.choices, protected=True
    )
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signataire"),
    )
    signed_at = models.DateTimeField(_("signée le"), null=True, blank=True)
    timestamped_at = models.DateTimeField(
        _("horodatée le (autorité d'horodatage)"),
        null=True,
        blank=True,
        help_text=_("L'heure donnée par le jeton d'horodatage RFC 3161 de la signature."),
    )
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    hash_before = models.CharField(_("empreinte avant signature"), max_length=64, blank=True)
    hash_after = models.CharField(_("empreinte après signature"), max_length=64, blank=True)
    certificate_subject = models.CharField(_("certificat"), max_length=500, blank=True)
    evidence = models.JSONField(_("preuve"), default=dict, blank=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="one_signature_per_rank")
        ]

    def __str__(self) -> str:
        return f"{self.request} — {self.position}. {self.get_party_display()}"

    @property
    def field_name(self) -> str:
        return f"Signature{self.position}"

    @transition(field=state, source=SignatureState.PENDING, target="signed")
    def sign(self) -> None:
        """Signed: the PDF now carries this signature."""


class SignatureCode(models.Model):
    """A one-time code e-mailed to the association's representative; only its hash is kept."""

    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, related_name="codes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("code de signature")
        verbose_name_plural = _("codes de signature")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.signature} — {self.created_at:%Y-%m-%d %H:%M}"


class FunderCertificate(models.Model):
    """The PKCS#12 file a funder signs with. Its passphrase is never stored here: it is read from
    the settings (`SIGNATURE_PASSPHRASES`, filled from the environment variables
    `PLURIEL_SIGNATURE_PASSPHRASE_<KEY>`)."""

    funder = models.OneToOneField(
        Funder,
        on_delete=models.CASCADE,
        related_name="signing_certificate",
        verbose_name=_("financeur"),
    )
    pkcs12_path = models.CharField(
        _("fichier PKCS#12 sur le serveur"),
        max_length=500,
        help_text=_("Chemin absolu du fichier .p12 (lisible par l'application seulement)."),
    )
    passphrase_key = models.CharField(
        _("clé de la phrase de passe"),
        max_length=50,
        help_text=_(
            "La phrase de passe est lue dans la variable d'environnement "
            "PLURIEL_SIGNATURE_PASSPHRASE_<CLÉ>, jamais enregistrée en base."
        ),
    )

    class Meta:
        verbose_name = _("certificat de signature d'un financeur")
        verbose_name_plural = _("certificats de signature des financeurs")

    def __str__(self) -> str:
        return str(self.funder)
