"""Writes of the city contract (docs/domain.md §8): every change checked and audited here.

Views, the API and the admin call these services. A broken rule raises DomainError (400),
a transition at the wrong moment TransitionNotAllowed (409), a missing right PermissionDenied.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from calls.models import Programme
from calls.services import programme_set_envelope
from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied
from core.fsm import apply_transition, lock
from core.models import QPV, Funder, Pillar, TransitionTheme, User
from core.money import to_money

from .models import (
    Commitment,
    Contract,
    ContractMember,
    ContractState,
    ContractVersion,
    Decision,
    Meeting,
    MemberRole,
    Opinion,
    Part,
    Signatory,
)
from .selectors import (
    can_manage_contracts,
    can_steer,
    citizen_qpvs,
    contracts_readable_by,
    represented_signatories,
)

#: The fields an avenant may change, with what the versions record.
AMENDABLE = ("name", "last_year", "summary", "communes")


def contract_write_check_permission(actor: User) -> None:
    """Programme managers write contracts; the API calls it before reading a body (issue 11)."""
    if not can_manage_contracts(actor):
        raise PermissionDenied(_("Seul·e un·e responsable de programme peut modifier le contrat."))


def _snapshot(contract: Contract) -> dict[str, Any]:
    return {
        "name": contract.name,
        "first_year": contract.first_year,
        "last_year": contract.last_year,
        "summary": contract.summary,
        "communes": contract.communes,
        "qpvs": sorted(q.code for q in contract.qpvs.all()),
    }


def _check_period(first_year: int, last_year: int) -> None:
    if not 2000 <= first_year <= 2100:
        raise DomainError(_("Année de début invalide."), field="first_year")
    if last_year < first_year:
        raise DomainError(_("La dernière année doit suivre la première."), field="last_year")
    if last_year - first_year > 15:
        raise DomainError(_("Un contrat dure au plus 16 ans."), field="last_year")


# --------------------------------------------------------------------------- the contract


def contract_create(
    *,
    actor: User,
    name: str,
    epci_name: str,
    first_year: int,
    last_year: int,
    qpvs: list[QPV],
    communes: str = "",
    epci_siren: str = "",
    summary: str = "",
) -> Contract:
    contract_write_check_permission(actor)
    if not name.strip():
        raise DomainError(_("L'intitulé est obligatoire."), field="name")
    if not epci_name.strip():
        raise DomainError(_("L'intercommunalité est obligatoire."), field="epci_name")
    if epci_siren and not (epci_siren.isdigit() and len(epci_siren) == 9):
        raise DomainError(_("Le SIREN compte 9 chiffres."), field="epci_siren")
    _check_period(first_year, last_year)
    if not qpvs:
        raise DomainError(_("Le contrat couvre au moins un quartier."), field="qpvs")
    with transaction.atomic():
        contract = Contract.objects.create(
            name=name.strip(),
            epci_name=epci_name.strip(),
            epci_siren=epci_siren,
            first_year=first_year,
            last_year=last_year,
            communes=communes,
            summary=summary,
        )
        contract.qpvs.set(qpvs)
        audit_log(actor=actor, obj=contract, action="contracts.contract.created")
    return contract


def contract_sign(*, actor: User, contract: Contract, signed_on: datetime.date) -> Contract:
    """Version 1: the contract as signed by every signatory."""
    contract_write_check_permission(actor)
    with transaction.atomic():
        contract = lock(contract)
        if not contract.signatories.exists():
            raise DomainError(_("Ajoutez les signataires avant la signature."))
        if not contract.parts.exists():
            raise DomainError(_("Ajoutez les volets avant la signature."))
        contract.signed_on = signed_on
        contract.version = 1
        apply_transition(
            contract,
            "sign",
            actor=actor,
            action="contracts.contract.signed",
            update_fields=["signed_on", "version"],
            payload={"signed_on": signed_on},
        )
        ContractVersion.objects.create(
            contract=contract,
            number=1,
            reason=_("Signature"),
            effective_on=signed_on,
            after=_snapshot(contract),
            author=actor,
        )
    return contract


def contract_amend(
    *,
    actor: User,
    contract: Contract,
    reason: str,
    effective_on: datetime.date,
    changes: dict[str, Any],
    qpvs: list[QPV] | None = None,
) -> ContractVersion:
    """An avenant: a new version with its before/after; commitments already recorded stay."""
    contract_write_check_permission(actor)
    if not reason.strip():
        raise DomainError(_("L'objet de l'avenant est obligatoire."), field="reason")
    unknown = set(changes) - set(AMENDABLE)
    if unknown:
        raise DomainError(
            _("Un avenant ne peut pas modifier : %(fields)s.")
            % {"fields": ", ".join(sorted(unknown))}
        )
    with transaction.atomic():
        contract = lock(contract)
        before = _snapshot(contract)
        for key, value in changes.items():
            setattr(contract, key, value)
        _check_period(contract.first_year, contract.last_year)
        if (
            "last_year" in changes
            and contract.commitments.filter(year__gt=contract.last_year).exists()
        ):
            raise DomainError(
                _("Des engagements existent après cette année : retirez-les d'abord."),
                field="last_year",
            )
        if qpvs is not None:
            if not qpvs:
                raise DomainError(_("Le contrat couvre au moins un quartier."), field="qpvs")
            contract.qpvs.set(qpvs)
        contract.version += 1
        apply_transition(
            contract,
            "amend",
            actor=actor,
            action="contracts.contract.amended",
            reason=reason,
            update_fields=[*changes.keys(), "version"],
            payload={"version": contract.version},
        )
        after = _snapshot(contract)
        version = ContractVersion.objects.create(
            contract=contract,
            number=contract.version,
            reason=reason,
            effective_on=effective_on,
            before=before,
            after=after,
            author=actor,
        )
    return version


def contract_end(*, actor: User, contract: Contract, reason: str = "") -> Contract:
    contract_write_check_permission(actor)
    with transaction.atomic():
        contract = lock(contract)
        apply_transition(
            contract, "end", actor=actor, action="contracts.contract.ended", reason=reason
        )
    return contract


def _require_open(contract: Contract) -> None:
    if Contract.objects.filter(pk=contract.pk, state=ContractState.ENDED).exists():
        raise DomainError(_("Ce contrat est échu : il ne peut plus être modifié."))


# --------------------------------------------------------------------------- structure


def part_add(
    *,
    actor: User,
    contract: Contract,
    kind: str,
    title: str,
    pillar: Pillar | None = None,
    theme: TransitionTheme | None = None,
    position: int = 0,
) -> Part:
    contract_write_check_permission(actor)
    _require_open(contract)
    if kind not in Part.Kind.values:
        raise DomainError(_("Nature de volet inconnue."), field="kind")
    if not title.strip():
        raise DomainError(_("L'intitulé est obligatoire."), field="title")
    if kind == Part.Kind.PILLAR and pillar is None:
        raise DomainError(_("Choisissez le pilier de ce volet."), field="pillar")
    if kind == Part.Kind.TRANSITION and theme is None:
        raise DomainError(_("Choisissez le thème de transition."), field="theme")
    with transaction.atomic():
        if contract.parts.filter(title=title.strip()).exists():
            raise DomainError(_("Ce contrat a déjà un volet de ce nom."), field="title")
        part = Part.objects.create(
            contract=contract,
            kind=kind,
            title=title.strip(),
            pillar=pillar,
            theme=theme,
            position=position,
        )
        audit_log(actor=actor, obj=contract, action="contracts.part.added", target=part.title)
    return part


def part_attach_programme(*, actor: User, part: Part, programme: Programme) -> Part:
    """Programmes (and so their calls, grants, agreements and payments) feed this part."""
    contract_write_check_permission(actor)
    contract = part.contract
    _require_open(contract)
    if not contract.first_year <= programme.fiscal_year <= contract.last_year:
        raise DomainError(
            _("Le programme %(p)s est hors de la période du contrat.") % {"p": programme},
            field="programme",
        )
    other = Part.objects.filter(programmes=programme).exclude(pk=part.pk).first()
    if other is not None:
        raise DomainError(
            _("Ce programme est déjà rattaché au volet « %(part)s ».") % {"part": other},
            field="programme",
        )
    with transaction.atomic():
        part.programmes.add(programme)
        audit_log(
            actor=actor,
            obj=contract,
            action="contracts.part.programme_attached",
            payload={"part": part.pk, "programme": programme.pk},
        )
    return part


def signatory_add(
    *,
    actor: User,
    contract: Contract,
    name: str,
    role: str,
    funder: Funder | None = None,
    signed_by: str = "",
) -> Signatory:
    contract_write_check_permission(actor)
    _require_open(contract)
    if role not in Signatory.Role.values:
        raise DomainError(_("Rôle de signataire inconnu."), field="role")
    if not name.strip():
        raise DomainError(_("Le nom est obligatoire."), field="name")
    if contract.signatories.filter(name=name.strip()).exists():
        raise DomainError(_("Ce signataire figure déjà au contrat."), field="name")
    with transaction.atomic():
        signatory = Signatory.objects.create(
            contract=contract, name=name.strip(), role=role, funder=funder, signed_by=signed_by
        )
        audit_log(
            actor=actor, obj=contract, action="contracts.signatory.added", target=signatory.name
        )
    return signatory


def member_grant(
    *,
    actor: User,
    contract: Contract,
    user: User,
    role: str,
    signatory: Signatory | None = None,
    qpv: QPV | None = None,
) -> ContractMember:
    """Give a user a role on the contract (representative, steering member, conseil citoyen)."""
    contract_write_check_permission(actor)
    if role not in MemberRole.values:
        raise DomainError(_("Rôle inconnu."), field="role")
    if role == MemberRole.SIGNATORY_REP and (
        signatory is None or signatory.contract_id != contract.pk
    ):
        raise DomainError(_("Choisissez le signataire représenté."), field="signatory")
    if role == MemberRole.CITIZEN and (qpv is None or not contract.qpvs.filter(pk=qpv.pk).exists()):
        raise DomainError(_("Choisissez un quartier du contrat."), field="qpv")
    try:
        with transaction.atomic():
            member = ContractMember.objects.create(
                contract=contract,
                user=user,
                role=role,
                signatory=signatory if role == MemberRole.SIGNATORY_REP else None,
                qpv=qpv if role == MemberRole.CITIZEN else None,
            )
            audit_log(
                actor=actor,
                obj=contract,
                action="contracts.member.granted",
                target=role,
                payload={"user": user.pk, "signatory": signatory, "qpv": qpv},
            )
    except IntegrityError:
        raise DomainError(_("Cette personne a déjà ce rôle sur le contrat."), field="user")
    return member


# --------------------------------------------------------------------------- commitments


def commitment_record(
    *,
    actor: User,
    contract: Contract,
    signatory: Signatory,
    part: Part,
    year: int,
    kind: str,
    amount: Decimal | None = None,
    action: str = "",
    indicator: str = "",
    target: Decimal | None = None,
) -> Commitment:
    """A signatory's promise: money (specific or droit commun credits) or an action with a target."""
    contract_write_check_permission(actor)
    _require_open(contract)
    if signatory.contract_id != contract.pk or part.contract_id != contract.pk:
        raise DomainError(_("Signataire ou volet d'un autre contrat."))
    if not contract.first_year <= year <= contract.last_year:
        raise DomainError(
            _("L'année doit être comprise entre %(a)s et %(b)s.")
            % {"a": contract.first_year, "b": contract.last_year},
            field="year",
        )
    if kind not in Commitment.Kind.values:
        raise DomainError(_("Nature d'engagement inconnue."), field="kind")
    if kind == Commitment.Kind.ACTION:
        if not action.strip():
            raise DomainError(_("Décrivez l'action."), field="action")
        if not indicator.strip():
            raise DomainError(_("Un engagement non financier a un indicateur."), field="indicator")
        if target is None:
            raise DomainError(_("Indiquez la cible de l'indicateur."), field="target")
        amount = None
    else:
        if amount is None or amount <= 0:
            raise DomainError(_("Le montant doit être positif."), field="amount")
        amount = to_money(amount)
    with transaction.atomic():
        commitment = Commitment.objects.create(
            contract=contract,
            signatory=signatory,
            part=part,
            year=year,
            kind=kind,
            amount=amount,
            action=action.strip(),
            indicator=indicator.strip(),
            target=target,
        )
        audit_log(
            actor=actor,
            obj=commitment,
            action="contracts.commitment.recorded",
            payload={"kind": kind, "amount": amount, "target": target},
        )
    return commitment


def commitment_report(
    *,
    actor: User,
    commitment: Commitment,
    note: str,
    realised_amount: Decimal | None = None,
    realised_value: Decimal | None = None,
) -> Commitment:
    """A signatory's representative records what was done (droit commun credits and actions
    are not in Pluriel's payments, so the signatory declares them)."""
    contract = commitment.contract
    if not (
        can_manage_contracts(actor)
        or commitment.signatory in represented_signatories(actor, contract)
    ):
        if not contracts_readable_by(actor).filter(pk=contract.pk).exists():
            raise DomainError(_("Engagement introuvable."), code="not_found")
        raise PermissionDenied(_("Seul·e un·e représentant·e de ce signataire peut déclarer."))
    if not note.strip():
        raise DomainError(_("Décrivez ce qui a été réalisé."), field="note")
    if realised_amount is not None and realised_amount < 0:
        raise DomainError(_("Le montant ne peut pas être négatif."), field="realised_amount")
    with transaction.atomic():
        commitment = lock(commitment)
        before = {"amount": commitment.realised_amount, "value": commitment.realised_value}
        commitment.realised_note = note.strip()
        commitment.realised_amount = (
            to_money(realised_amount) if realised_amount is not None else None
        )
        commitment.realised_value = realised_value
        commitment.reported_at = now()
        commitment.save(
            update_fields=["realised_note", "realised_amount", "realised_value", "reported_at"]
        )
        audit_log(
            actor=actor,
            obj=commitment,
            action="contracts.commitment.reported",
            payload={
                "before": before,
                "after": {"amount": commitment.realised_amount, "value": realised_value},
            },
        )
    return commitment


# --------------------------------------------------------------------------- steering


def meeting_plan(
    *, actor: User, contract: Contract, kind: str, held_on: datetime.date, agenda: str = ""
) -> Meeting:
    if not can_steer(actor, contract):
        raise PermissionDenied(_("Vous ne pilotez pas ce contrat."))
    _require_open(contract)
    if kind not in Meeting.Kind.values:
        raise DomainError(_("Instance inconnue."), field="kind")
    with transaction.atomic():
        meeting = Meeting.objects.create(
            contract=contract, kind=kind, held_on=held_on, agenda=agenda
        )
        audit_log(actor=actor, obj=meeting, action="contracts.meeting.planned")
    return meeting


def meeting_hold(
    *,
    actor: User,
    meeting: Meeting,
    attendees: list[User],
    other_attendees: str = "",
    minutes: str = "",
) -> Meeting:
    if not can_steer(actor, meeting.contract):
        raise PermissionDenied(_("Vous ne pilotez pas ce contrat."))
    with transaction.atomic():
        meeting = lock(meeting)
        meeting.other_attendees = other_attendees
        meeting.minutes = minutes
        apply_transition(
            meeting,
            "hold",
            actor=actor,
            action="contracts.meeting.held",
            update_fields=["other_attendees", "minutes"],
        )
        meeting.attendees.set(attendees)
    return meeting


def decision_record(
    *, actor: User, meeting: Meeting, text: str, part: Part | None = None
) -> Decision:
    if not can_steer(actor, meeting.contract):
        raise PermissionDenied(_("Vous ne pilotez pas ce contrat."))
    if not text.strip():
        raise DomainError(_("Rédigez la décision."), field="text")
    if part is not None and part.contract_id != meeting.contract_id:
        raise DomainError(_("Volet d'un autre contrat."), field="part")
    with transaction.atomic():
        decision = Decision.objects.create(
            meeting=meeting,
            kind=Decision.Kind.GENERAL,
            text=text.strip(),
            part=part,
            recorded_by=actor,
        )
        audit_log(
            actor=actor,
            obj=meeting,
            action="contracts.decision.recorded",
            payload={"decision": decision.pk},
        )
    return decision


def contract_programmes(contract: Contract) -> list[Programme]:
    return list(
        Programme.objects.filter(
            pk__in=Part.programmes.through.objects.filter(part__contract=contract).values(
                "programme_id"
            )
        ).order_by("-fiscal_year", "name")
    )


def decision_reorient(
    *,
    actor: User,
    meeting: Meeting,
    from_programme: Programme,
    to_programme: Programme,
    amount: Decimal,
    text: str,
) -> Decision:
    """Move `amount` of envelope from one of the contract's programmes to another, through calls'
    audited envelope service; the decision keeps both envelopes before and after."""
    if not can_steer(actor, meeting.contract):
        raise PermissionDenied(_("Vous ne pilotez pas ce contrat."))
    if amount is None or amount <= 0:
        raise DomainError(_("Le montant doit être positif."), field="amount")
    amount = to_money(amount)
    if from_programme.pk == to_programme.pk:
        raise DomainError(_("Choisissez deux programmes différents."), field="to_programme")
    allowed = {p.pk for p in contract_programmes(meeting.contract)}
    for field, programme in (("from_programme", from_programme), ("to_programme", to_programme)):
        if programme.pk not in allowed:
            raise DomainError(
                _("Le programme %(p)s n'est rattaché à aucun volet du contrat.") % {"p": programme},
                field=field,
            )
    if not text.strip():
        raise DomainError(_("Motivez la réorientation."), field="text")
    with transaction.atomic():
        source = lock(from_programme)
        target = lock(to_programme)
        if source.envelope < amount:
            raise DomainError(
                _("L'enveloppe de %(p)s (%(e)s €) ne suffit pas.")
                % {"p": source, "e": source.envelope},
                field="amount",
            )
        before = {str(source.pk): source.envelope, str(target.pk): target.envelope}
        reason = _("Réorientation décidée en %(m)s : %(t)s") % {"m": meeting, "t": text.strip()}
        programme_set_envelope(
            programme=source, envelope=source.envelope - amount, actor=actor, reason=reason
        )
        programme_set_envelope(
            programme=target, envelope=target.envelope + amount, actor=actor, reason=reason
        )
        source.refresh_from_db()
        target.refresh_from_db()
        after = {str(source.pk): source.envelope, str(target.pk): target.envelope}
        decision = Decision.objects.create(
            meeting=meeting,
            kind=Decision.Kind.REORIENTATION,
            text=text.strip(),
            from_programme=source,
            to_programme=target,
            amount=amount,
            before={k: str(v) for k, v in before.items()},
            after={k: str(v) for k, v in after.items()},
            recorded_by=actor,
        )
        audit_log(
            actor=actor,
            obj=meeting,
            action="contracts.decision.reoriented",
            reason=text.strip(),
            payload={"decision": decision.pk, "amount": amount, "before": before, "after": after},
        )
    return decision


# --------------------------------------------------------------------------- conseil citoyen


def opinion_give(
    *,
    actor: User,
    contract: Contract,
    qpv: QPV,
    part: Part,
    year: int,
    assessment: str,
    text: str,
) -> Opinion:
    """The conseil citoyen of `qpv` gives (or revises) its opinion on one part for one year."""
    if qpv not in citizen_qpvs(actor, contract):
        if not contracts_readable_by(actor).filter(pk=contract.pk).exists():
            raise DomainError(_("Contrat introuvable."), code="not_found")
        raise PermissionDenied(_("Seul le conseil citoyen de ce quartier peut donner cet avis."))
    if part.contract_id != contract.pk:
        raise DomainError(_("Volet d'un autre contrat."), field="part")
    if not contract.first_year <= year <= contract.last_year:
        raise DomainError(_("Année hors de la période du contrat."), field="year")
    if assessment not in Opinion.Assessment.values:
        raise DomainError(_("Choisissez une appréciation."), field="assessment")
    if not text.strip():
        raise DomainError(_("Rédigez l'avis."), field="text")
    with transaction.atomic():
        opinion, created = Opinion.objects.select_for_update().get_or_create(
            contract=contract,
            qpv=qpv,
            part=part,
            year=year,
            defaults={"assessment": assessment, "text": text.strip(), "author": actor},
        )
        before = None
        if not created:
            before = {"assessment": opinion.assessment, "text": opinion.text}
            opinion.assessment = assessment
            opinion.text = text.strip()
            opinion.author = actor
            opinion.save(update_fields=["assessment", "text", "author", "given_at"])
        audit_log(
            actor=actor,
            obj=opinion,
            action="contracts.opinion.given",
            payload={"before": before, "after": {"assessment": assessment}},
        )
    return opinion
