"""The agreement's life cycle (signature, activation, suspension, resumption, completion,
termination) and the daily job that makes instalments due, or holds them."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log_many
from core.clock import today
from core.errors import DomainError, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import User
from core.notifications import Msg, notify

from ..hooks import agreement_stopped
from ..models import (
    OWED_STATES,
    Agreement,
    AgreementState,
    Evaluation,
    EvaluationState,
    Instalment,
    InstalmentState,
    no_pending_electronic_signature,
    payee_values,
)
from ..transitions import instalments_transition
from .common import (
    ACCEPTED_EVALUATIONS,
    LATE_AFTER_DAYS,
    _staff,
)

A, E, I = AgreementState, EvaluationState, InstalmentState  # noqa: E741


# --------------------------------------------------------------------------- life cycle

AGREEMENT_ACTIONS = {
    "send_for_signature": "cpo.agreement.sent_for_signature",
    "sign": "cpo.agreement.signed",
    "activate": "cpo.agreement.activated",
    "suspend": "cpo.agreement.suspended",
    "resume": "cpo.agreement.resumed",
    "complete": "cpo.agreement.completed",
    "terminate": "cpo.agreement.terminated",
}


def agreement_send_for_signature(*, actor: User, agreement: Agreement) -> Agreement:
    _staff(actor)
    with transaction.atomic():
        agreement = lock(agreement)
        if agreement.state == A.SENT_FOR_SIGNATURE:
            return agreement
        agreement = apply_transition(
            agreement,
            "send_for_signature",
            actor=actor,
            action=AGREEMENT_ACTIONS["send_for_signature"],
        )
        notify(
            users=agreement.organisation.members.all(),
            title=Msg(gettext_noop("Convention %(ref)s à signer"), ref=agreement.reference),
        )
    return agreement


def agreement_sign(*, actor: User, agreement: Agreement, signed_on: datetime.date) -> Agreement:
    """Record the signature (or the notification of a decision): the payment clock starts. The
    first instalments' earliest date cannot precede it. Refused while an electronic signature of
    the agreement is pending: that one signs the agreement when its last signature is in."""
    _staff(actor)
    if signed_on is None or signed_on > today():
        raise DomainError(
            _("La date de signature ne peut pas être dans le futur."), field="signed_on"
        )
    with transaction.atomic():
        agreement = lock(agreement)
        if agreement.state == A.SIGNED:
            return agreement
        if not no_pending_electronic_signature(agreement):
            raise TransitionNotAllowed(
                _(
                    "Une signature électronique de la convention est en cours : elle sera signée "
                    "quand toutes les parties auront signé."
                ),
                allowed=[],
            )
        agreement = agreement_mark_signed(
            actor=actor, agreement=agreement, signed_on=signed_on, payload={"signed_on": signed_on}
        )
    return agreement


def agreement_mark_signed(
    *,
    actor: User,
    agreement: Agreement,
    signed_on: datetime.date,
    payload: dict[str, Any],
    update_fields: Sequence[str] = (),
) -> Agreement:
    """The « signed » transition itself, on a locked agreement in the caller's transaction: the
    dates, the audit row, and the first instalments moved to the signature date. Used by the
    manual signature above and by the electronic one (cpo/signatures/services.py)."""
    agreement.signed_on = signed_on
    agreement.notified_on = agreement.notified_on or signed_on
    agreement = apply_transition(
        agreement,
        "sign",
        actor=actor,
        action=AGREEMENT_ACTIONS["sign"],
        payload={**payload, "signed_on": signed_on},
        update_fields=["signed_on", "notified_on", *update_fields],
    )
    agreement.instalments.filter(
        state=I.PLANNED, earliest_date__lt=signed_on, requires_signature=True
    ).update(earliest_date=signed_on)
    return agreement


def _simple(name: str, *, needs_reason: bool = False) -> Callable[..., Agreement]:
    def service(*, actor: User, agreement: Agreement, reason: str = "") -> Agreement:
        _staff(actor)
        if needs_reason and not (reason or "").strip():
            raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
        with transaction.atomic():
            agreement = lock(agreement)
            agreement = apply_transition(
                agreement, name, actor=actor, action=AGREEMENT_ACTIONS[name], reason=reason
            )
            if name in ("suspend", "terminate"):
                # Payments in runs not yet exported come out; exported ones are with the
                # accountant already, and paid ones are never touched.
                # The payment side subscribes to this hook (finance.apps).
                agreement_stopped(agreement.instalments.all(), actor=actor, reason=reason or name)
            if name == "suspend":
                _hold(
                    agreement.instalments.filter(state__in=[I.PLANNED, I.DUE, I.APPROVED]),
                    _("Convention suspendue"),
                )
            if name == "terminate":
                agreement.end_reason = reason.strip()
                agreement.save(update_fields=["end_reason"])
                _cancel(
                    agreement.instalments.filter(
                        state__in=[I.PLANNED, I.DUE, I.ON_HOLD, I.APPROVED]
                    ),
                    reason.strip(),
                )
        if name in ("resume", "activate"):
            instalments_refresh(agreement_ids=[agreement.pk])
        return agreement

    service.__name__ = f"agreement_{name}"
    return service


agreement_activate = _simple("activate")
agreement_suspend = _simple("suspend", needs_reason=True)
agreement_resume = _simple("resume")
agreement_terminate = _simple("terminate", needs_reason=True)


def _instalment_entries(
    rows: Sequence[Mapping[str, Any]], source_key: str, target: str, reason: str = ""
) -> list[dict[str, Any]]:
    return [
        {
            "object_id": r["pk"],
            "object_repr": f"{r['agreement__reference']} {r['year__fiscal_year']} n° {r['number']}",
            "source": r[source_key],
            "target": target,
            "reason": reason or r.get("reason", ""),
        }
        for r in rows
    ]


ROW_FIELDS = ("pk", "state", "number", "agreement__reference", "year__fiscal_year")


def _hold(queryset: QuerySet[Instalment], reason: str, *, actor: User | None = None) -> int:
    rows = list(queryset.values(*ROW_FIELDS))
    instalments_transition(
        [r["pk"] for r in rows],
        transition="hold",
        actor=actor,
        entries=_instalment_entries(rows, "state", I.ON_HOLD, reason),
        values={"hold_reason": reason[:255]},
    )
    return len(rows)


def _cancel(queryset: QuerySet[Instalment], reason: str, *, actor: User | None = None) -> int:
    rows = list(queryset.values(*ROW_FIELDS))
    instalments_transition(
        [r["pk"] for r in rows],
        transition="cancel",
        actor=actor,
        entries=_instalment_entries(rows, "state", I.CANCELLED, reason),
        values={"hold_reason": reason[:255]},
    )
    return len(rows)


# --------------------------------------------------------------------------- the daily job


def instalments_refresh(
    *, day: datetime.date | None = None, agreement_ids: list[int] | None = None
) -> dict[str, int]:
    """Make due every instalment whose conditions hold — agreement signed, date reached, the
    required evaluation accepted, bank details known — and hold the ones an evaluation blocks;
    flag due instalments unpaid 60 days after they fell due. Set-based (a few queries whatever the
    number of agreements) and idempotent: a second run changes nothing."""
    day = day or today()
    counts = {"activated": 0, "due": 0, "on_hold": 0, "late": 0}
    with transaction.atomic():
        agreements = Agreement.objects.filter(state=A.SIGNED, first_year__lte=day.year)
        if agreement_ids is not None:
            agreements = agreements.filter(pk__in=agreement_ids)
        activated = list(agreements.values_list("pk", "reference"))
        if activated:
            Agreement.objects.filter(pk__in=[pk for pk, _r in activated], state=A.SIGNED).update(
                state=A.ACTIVE
            )
            audit_log_many(
                actor=None,
                model=Agreement,
                action="cpo.agreement.activated",
                entries=[
                    {"object_id": pk, "object_repr": ref, "source": A.SIGNED, "target": A.ACTIVE}
                    for pk, ref in activated
                ],
            )
            counts["activated"] = len(activated)

        candidates = Instalment.objects.filter(
            state__in=[I.PLANNED, I.ON_HOLD],
            agreement__state__in=[A.SIGNED, A.ACTIVE, A.COMPLETED],
            earliest_date__lte=day,
        )
        if agreement_ids is not None:
            candidates = candidates.filter(agreement_id__in=agreement_ids)
        rows = list(
            candidates.values(
                *ROW_FIELDS,
                "agreement_id",
                "requires_evaluation_of",
                "requires_valid_documents",
                "hold_reason",
                payee_iban=payee_values()["payee_iban"],
            )
        )
        accepted = set(
            Evaluation.objects.filter(
                agreement_id__in={r["agreement_id"] for r in rows}, state__in=ACCEPTED_EVALUATIONS
            ).values_list("agreement_id", "fiscal_year")
        )
        to_due, to_hold = [], []
        for r in rows:
            reason = ""
            if (
                r["requires_evaluation_of"]
                and (r["agreement_id"], r["requires_evaluation_of"]) not in accepted
            ):
                reason = _("En attente de l'évaluation %(year)d acceptée") % {
                    "year": r["requires_evaluation_of"]
                }
            elif r["requires_valid_documents"] and not r["payee_iban"]:
                reason = _("Coordonnées bancaires manquantes")
            if reason:
                if r["state"] != I.ON_HOLD or r["hold_reason"] != reason:
                    to_hold.append({**r, "reason": reason})
            else:
                to_due.append(r)
        for reason in {r["reason"] for r in to_hold}:
            group = [r for r in to_hold if r["reason"] == reason]
            instalments_transition(
                [r["pk"] for r in group],
                transition="hold",
                actor=None,
                entries=_instalment_entries(group, "state", I.ON_HOLD),
                values={"hold_reason": reason},
            )
        if to_due:
            instalments_transition(
                [r["pk"] for r in to_due],
                transition="make_due",
                actor=None,
                entries=_instalment_entries(to_due, "state", I.DUE),
                values={"hold_reason": "", "due_since": day},
            )
        counts["due"], counts["on_hold"] = len(to_due), len(to_hold)

        late = Instalment.objects.filter(
            state__in=OWED_STATES,
            is_late=False,
            due_since__lt=day - datetime.timedelta(days=LATE_AFTER_DAYS),
        )
        if agreement_ids is not None:
            late = late.filter(agreement_id__in=agreement_ids)
        late_rows = list(late.values(*ROW_FIELDS))
        if late_rows:
            Instalment.objects.filter(pk__in=[r["pk"] for r in late_rows]).update(is_late=True)
            audit_log_many(
                actor=None,
                model=Instalment,
                action="cpo.instalment.late",
                entries=_instalment_entries(late_rows, "state", I.DUE),
            )
        counts["late"] = len(late_rows)
    return counts
