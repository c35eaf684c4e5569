"""Retention rules of the grants app (registered with core.privacy in GrantsConfig.ready)."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.models import Membership, User
from core.privacy.retention import RetentionRule, register_rule

from .models import OPEN_STATES, Application, ApplicationState


def _delete_stale_drafts(cutoff: datetime.datetime) -> int:
    count = 0
    for draft in Application.objects.filter(state=ApplicationState.DRAFT, updated_at__lt=cutoff):
        for attachment in draft.attachments.all():
            attachment.file.delete(save=False)
        draft.delete()
        count += 1
    return count


def _open_file_hold(user: User) -> str | None:
    organisations = Membership.objects.filter(user=user).values("organisation_id")
    open_files = Application.objects.filter(organisation__in=organisations, state__in=OPEN_STATES)
    if open_files.exists():
        refs = ", ".join(open_files.values_list("reference", flat=True)[:5])
        return _(
            "Dossier(s) en cours d'instruction pour son organisation (%(refs)s) : la personne "
            "en est le contact, conservé jusqu'à la décision (code des relations entre le public "
            "et l'administration, art. L112-3 et suivants)."
        ) % {"refs": refs}
    return None


def register() -> None:
    register_rule(
        RetentionRule(
            code="grants.drafts",
            data=_lazy("Dossiers jamais déposés (brouillons) et leurs pièces"),
            duration=_lazy("2 ans sans modification"),
            days=2 * 365,
            legal_basis=_lazy("Exécution du service (RGPD art. 6-1-e)"),
            action="delete",
            kept=_lazy("Rien"),
            app="grants",
            apply=_delete_stale_drafts,
            hold=_open_file_hold,
        )
    )


def register_export() -> None:
    """The grants sections of a person's data export (core.privacy.export)."""
    from core.privacy.export import Section, register_section

    from .models import ApplicationAttachment

    @register_section("pieces_de_dossiers")
    def _attachments(user: User) -> Section:
        data, files = [], []
        for item in ApplicationAttachment.objects.filter(uploaded_by=user).select_related(
            "application"
        ):
            name = f"fichiers/dossiers/{item.pk}-{(item.file.name or '').rsplit('/', 1)[-1]}"
            data.append({"dossier": item.application.reference, "fichier": name})
            files.append((name, item.file))
        return Section(data, files)

    @register_section("panels")
    def _panels(user: User) -> Section:
        """Seats and participation only: a secret ballot's choices are not linked to anyone."""
        from calls.models import PanelMember

        from .solutions.models import Ballot, BallotChoice

        seats = []
        for seat in PanelMember.objects.filter(user=user).select_related("panel__call"):
            ballot = Ballot.objects.filter(member=seat).first()
            choices = (
                list(
                    BallotChoice.objects.filter(ballot=ballot).values_list(
                        "application__reference", "criterion", "score"
                    )
                )
                if ballot is not None
                else []
            )
            seats.append(
                {
                    "appel": str(seat.panel.call),
                    "collège": seat.get_college_display(),
                    "a_voté_le": ballot.cast_at.isoformat() if ballot else None,
                    "choix": [list(c) for c in choices],  # empty for a secret ballot
                }
            )
        return Section(seats)
