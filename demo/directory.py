"""Demo of the public directory and the experience sheets (issue 14 item 7): the organisations
of the agreements whose evaluation was accepted opt in, sheets are drafted from those evaluations,
two published and one waiting for review. Everything goes through directory.services (audited)."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from core.models import AuditLog, Membership
from demo.context import Context
from demo.data import ASSOCIATIONS, siret_for
from directory import services
from directory.models import ActorProfile, ExperienceSheet
from directory.selectors import evaluations_to_share

PRESENTATION = (
    "{name} agit dans les quartiers prioritaires du territoire : accompagnement des habitant·es, "
    "ateliers, projets avec les écoles et les bailleurs. Retrouvez ci-dessous nos actions "
    "financées et les fiches expérience que nous partageons."
)


def _demo_sheets():
    sirets = [siret_for(i) for i in range(len(ASSOCIATIONS))]
    return ExperienceSheet.objects.filter(organisation__siret__in=sirets)


def load_directory_demo(ctx: Context) -> bool:
    """Build the directory demo once (returns False when sheets exist already)."""
    if _demo_sheets().exists():
        return False
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    with transaction.atomic():
        evaluations = list(
            evaluations_to_share(instructor).filter(
                agreement__organisation__siret__in=[siret_for(i) for i in range(len(ASSOCIATIONS))]
            )[:3]
        )
        for evaluation in evaluations:
            organisation = evaluation.agreement.organisation
            admin = (
                Membership.objects.filter(organisation=organisation, is_admin=True)
                .select_related("user")
                .first()
            )
            if (
                admin is not None
                and not ActorProfile.objects.filter(
                    organisation=organisation, is_listed=True
                ).exists()
            ):
                services.profile_update(
                    actor=admin.user,
                    organisation=organisation,
                    is_listed=True,
                    presentation=PRESENTATION.format(name=organisation.name),
                    website="https://association.example.org",
                )
        for i, evaluation in enumerate(evaluations):
            sheet = services.sheet_draft(actor=instructor, evaluation=evaluation)
            services.sheet_update(
                actor=instructor,
                sheet=sheet,
                audience="Habitant·es des quartiers prioritaires, en priorité les 16-25 ans.",
                lessons="S'appuyer sur les lieux déjà fréquentés ; associer le conseil citoyen "
                "dès la conception.",
            )
            services.sheet_submit(actor=instructor, sheet=sheet)
            if i < 2:
                services.sheet_publish(actor=instructor, sheet=sheet)
    return bool(evaluations)


def reset_directory_demo() -> None:
    """Remove the sheets and public profiles (before the agreements they point to)."""
    sheets = _demo_sheets()
    sheet_ids = [str(pk) for pk in sheets.values_list("pk", flat=True)]
    AuditLog.objects.filter(
        content_type=ContentType.objects.get_for_model(ExperienceSheet), object_id__in=sheet_ids
    ).delete()
    sheets.delete()
    sirets = [siret_for(i) for i in range(len(ASSOCIATIONS))]
    ActorProfile.objects.filter(organisation__siret__in=sirets).delete()
