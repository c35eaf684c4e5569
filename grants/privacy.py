"""Retention rules of the grants app (registered with core.privacy in GrantsConfig.ready)."""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from calls.models import Call
from core.models import Membership, User
from core.privacy.retention import RetentionRule, register_rule

from .models import OPEN_STATES, Application, ApplicationState

S = ApplicationState
#: Files closed without funding: refused, declared ineligible, dismissed, withdrawn.
CLOSED_UNFUNDED = [S.REJECTED, S.INELIGIBLE, S.DISMISSED, S.WITHDRAWN]
#: A call whose panel's vote is counted and final.
DECIDED_CALL_STATES = ["decided", "archived"]


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


def _delete_closed_file_attachments(cutoff: datetime.datetime) -> int:
    """The attachments of files refused, ineligible, dismissed or withdrawn before the cutoff
    (decision date, or last change for a withdrawal); one audit row per file."""
    from core.audit import audit_log_many

    from .models import ApplicationAttachment

    closed = Application.objects.filter(state__in=CLOSED_UNFUNDED).filter(
        Q(decided_at__lt=cutoff) | Q(decided_at__isnull=True, updated_at__lt=cutoff)
    )
    entries, count = [], 0
    by_file: dict[int, list[ApplicationAttachment]] = {}
    for attachment in ApplicationAttachment.objects.filter(application__in=closed).select_related(
        "application"
    ):
        by_file.setdefault(attachment.application_id, []).append(attachment)
    for attachments in by_file.values():
        application = attachments[0].application
        for attachment in attachments:
            attachment.file.delete(save=False)
            attachment.delete()
            count += 1
        entries.append(
            {
                "object_id": application.pk,
                "object_repr": application.reference,
                "reason": str(_("Dossier clos sans financement")),
                "payload": {"rule": "grants.closed_files", "attachments": len(attachments)},
            }
        )
    audit_log_many(actor=None, model=Application, action="core.retention.deleted", entries=entries)
    return count


def _panels_apply(cutoff: datetime.datetime) -> int:
    """For the panels whose vote closed before the cutoff (call decided): the choices of an open
    ballot are unlinked from their voter, like a secret ballot's from the start; the residents
    who sat only on such panels, with no other role nor organisation and no login since, are
    anonymised. The register of voters (participation, quorum) and the papers stay."""
    from calls.models import PanelMember
    from core.audit import audit_log_many
    from core.models import STAFF_ROLES, RoleAssignment
    from core.privacy.rules import ANONYMOUS_DOMAIN, anonymise_user

    from .solutions.models import BallotChoice

    old_calls = list(
        Call.objects.filter(
            panel__voting_closes_at__lt=cutoff, state__in=DECIDED_CALL_STATES
        ).values_list("pk", "title")
    )
    entries, unlinked = [], 0
    for call_id, title in old_calls:
        count = BallotChoice.objects.filter(call_id=call_id, ballot__isnull=False).update(
            ballot=None
        )
        if count:
            unlinked += count
            entries.append(
                {
                    "object_id": call_id,
                    "object_repr": title,
                    "reason": str(_("Vote clos depuis plus d'un an")),
                    "payload": {"rule": "grants.panels", "choices_unlinked": count},
                }
            )
    audit_log_many(actor=None, model=Call, action="core.retention.anonymised", entries=entries)
    recent_seats = PanelMember.objects.exclude(call_filter(cutoff)).values("user_id")
    residents = (
        User.objects.filter(panel_seats__isnull=False, is_superuser=False)
        .filter(Q(last_login__lt=cutoff) | Q(last_login__isnull=True))
        .exclude(pk__in=recent_seats)
        .exclude(pk__in=RoleAssignment.objects.filter(role__in=STAFF_ROLES).values("user_id"))
        .exclude(pk__in=Membership.objects.values("user_id"))
        .exclude(email__endswith="@" + ANONYMOUS_DOMAIN)
        .distinct()
    )
    return unlinked + sum(anonymise_user(user) for user in residents)


def call_filter(cutoff: datetime.datetime) -> Q:
    """Seats on a panel whose vote closed before the cutoff, on a decided call."""
    return Q(panel__voting_closes_at__lt=cutoff, panel__call__state__in=DECIDED_CALL_STATES)


def _panels_erase(user: User) -> int:
    from .solutions.models import BallotChoice

    return BallotChoice.objects.filter(ballot__member__user=user).update(ballot=None)


def register() -> None:
    register_rule(
        RetentionRule(
            code="grants.drafts",
            data=gettext_lazy("Dossiers jamais déposés (brouillons) et leurs pièces"),
            duration=gettext_lazy("2 ans sans modification"),
            days=2 * 365,
            legal_basis=gettext_lazy("Exécution du service (RGPD art. 6-1-e)"),
            action="delete",
            kept=gettext_lazy("Rien"),
            app="grants",
            apply=_delete_stale_drafts,
            hold=_open_file_hold,
        )
    )
    register_rule(
        RetentionRule(
            code="grants.closed_files",
            data=gettext_lazy(
                "Pièces des dossiers refusés, irrecevables, classés sans suite ou retirés "
                "(devis, courriers, réponses aux demandes de compléments)"
            ),
            duration=gettext_lazy("2 ans après la décision ou le retrait"),
            days=2 * 365,
            legal_basis=gettext_lazy(
                "Mission d'intérêt public (RGPD art. 6-1-e) : répondre à un recours contre la "
                "décision (code de justice administrative art. R421-1) et éclairer une nouvelle "
                "demande"
            ),
            action="delete",
            kept=gettext_lazy(
                "Le dossier lui-même : organisation, projet, montant demandé, décision et sa "
                "motivation, historique"
            ),
            app="grants",
            apply=_delete_closed_file_attachments,
        )
    )
    register_rule(
        RetentionRule(
            code="grants.panels",
            data=gettext_lazy(
                "Membres des panels d'habitant·es (nom, e-mail) et, pour un vote non secret, "
                "le lien entre leur bulletin et leurs choix"
            ),
            duration=gettext_lazy("1 an après la clôture du vote, l'appel décidé"),
            days=365,
            legal_basis=gettext_lazy(
                "Mission d'intérêt public (RGPD art. 6-1-e) : participation des habitant·es "
                "(loi n° 2014-173 art. 7, conseils citoyens) ; délai de recours contre la décision"
            ),
            action="anonymise",
            kept=gettext_lazy(
                "Le registre des votant·es (sièges anonymes, participation, quorum), les "
                "bulletins sans lien avec leur auteur·e, les résultats ; un vote secret n'est "
                "jamais relié à personne"
            ),
            app="grants",
            apply=_panels_apply,
            erase=_panels_erase,
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
