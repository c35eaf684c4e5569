"""Multi-year agreements (CPO) built from the approved demo files, driven through every state,
with their evaluations."""

from __future__ import annotations

import datetime
from typing import Any

from core.clock import today
from core.models import (
    DocumentKind,
    Membership,
    OrganisationDocument,
)
from demo.context import Context
from demo.data import (
    FISCAL_YEAR,
    D,
    S,
)
from grants.models import (
    Application,
)

# --------------------------------------------------------------------------- agreements (CPO)

# (profile and options, target state, outcome of the first evaluation) — one agreement per approved
# demo file, in reference order; the structural-support files take the custom profile (their
# approved yearly amounts) and stay signed, their first year being still to come.
AGREEMENT_PLAN: list[tuple[dict[str, Any], str, str]] = [
    ({"profile": "flat", "duration_years": 3, "first_year": FISCAL_YEAR - 1}, "active", "accept"),
    (
        {
            "profile": "progressive_rate",
            "rate": D("0.05"),
            "duration_years": 3,
            "first_year": FISCAL_YEAR - 1,
        },
        "active",
        "reject",
    ),
    (
        {
            "profile": "degressive_step",
            "step": D("1000"),
            "duration_years": 3,
            "first_year": FISCAL_YEAR - 1,
        },
        "suspended",
        "accept_with_reservations",
    ),
    (
        {"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR - 2},
        "completed",
        "accept",
    ),
    ({"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR}, "terminated", ""),
    ({"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR + 1}, "draft", ""),
    (
        {"profile": "flat", "duration_years": 2, "first_year": FISCAL_YEAR + 1},
        "sent_for_signature",
        "",
    ),
]
AGREEMENT_PREFIXES = ("CPO", "CONV", "DEC")


def load_agreements(ctx: Context) -> bool:
    """Agreements built from approved demo files through cpo.services: every profile (flat,
    progressive rate, degressive step, custom from a structural-support file) and every state, with
    evaluations accepted, accepted with reservations and rejected, instalments due, on hold and late,
    one amendment and one recovery (cpo.services_changes)."""
    from cpo import services as cpo
    from cpo import services_changes
    from cpo.models import Agreement, AgreementState

    if Agreement.objects.filter(programme=ctx.programme).exists():
        return False
    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    approved = list(
        Application.objects.filter(programme=ctx.programme, state=S.APPROVED)
        .prefetch_related("years")
        .order_by("reference")
    )
    structural = [a for a in approved if a.years.exclude(approved_amount=None).exists()]
    others = [a for a in approved if a not in structural]
    built: dict[str, Agreement] = {}
    for app, (options, target, outcome) in zip(others, AGREEMENT_PLAN, strict=False):
        agreement = cpo.agreement_create_from_application(
            actor=instructor, application=app, **options
        )
        built.setdefault(target, _drive_agreement(ctx, agreement, target, outcome))
    for app in structural[:1]:
        agreement = cpo.agreement_create_from_application(actor=instructor, application=app)
        built["signed"] = _drive_agreement(ctx, agreement, AgreementState.SIGNED, "")

    if active := built.get("active"):
        services_changes.amendment_create(
            actor=instructor,
            agreement=active,
            reason="Montée en charge de l'action : un atelier de plus par semaine dès 2027.",
            effective_on=datetime.date(FISCAL_YEAR + 1, 1, 1),
            years={
                y.fiscal_year: y.amount + (D("2000") if y.fiscal_year > FISCAL_YEAR else 0)
                for y in active.years.all()
            },
        )
    if completed := built.get("completed"):
        services_changes.recovery_issue(
            actor=instructor,
            agreement=completed,
            fiscal_year=completed.last_year,
            unspent=D("1800.00"),
            reason="Action d'été annulée (canicule) : crédits non consommés.",
        )
    return True


def _evaluate(ctx: Context, agreement, year: int, outcome: str) -> None:
    """The association files the year's evaluation (planned vs actual: 5 % under plan), the
    instructor reviews it."""
    from cpo import services as cpo
    from cpo import services_evaluation
    from cpo.models import Evaluation

    member = Membership.objects.filter(organisation=agreement.organisation).first().user
    evaluation = Evaluation.objects.get(agreement=agreement, fiscal_year=year)
    # Files of some modes carry no CERFA budget: the report then shows the subsidy alone.
    rows = cpo.evaluation_prefill(evaluation) or [
        {"account": "74", "planned": agreement.years.get(fiscal_year=year).amount}
    ]
    accounts = (
        OrganisationDocument.objects.filter(
            organisation=agreement.organisation, kind=DocumentKind.APPROVED_ACCOUNTS
        )
        .order_by("pk")
        .first()
    )
    services_evaluation.evaluation_file(
        actor=member,
        evaluation=evaluation,
        activity_report=f"Bilan {year} : actions menées comme prévu, fréquentation en hausse.",
        budget_lines=[
            {**r, "actual": (r["planned"] * D("0.95")).quantize(D("0.01"))} for r in rows
        ],
        indicators=[
            {"label": i.label, "unit": i.unit, "target": i.target, "actual": i.target}
            for i in agreement.application.indicators.all()
        ],
        approved_accounts=accounts,
    )
    cpo.evaluation_review(
        actor=ctx.users["instructeur@demo.pluriel.fr"],
        evaluation=Evaluation.objects.get(pk=evaluation.pk),
        outcome=outcome,
        comment=""
        if outcome == "accept"
        else "Compte rendu financier incomplet : joindre le détail des charges de personnel.",
    )


def _drive_agreement(ctx: Context, agreement, target: str, outcome: str):
    """Take a draft agreement to `target` through the services, with realistic dates."""
    from cpo import services as cpo
    from cpo.models import Agreement

    instructor = ctx.users["instructeur@demo.pluriel.fr"]
    manager = ctx.users["responsable@demo.pluriel.fr"]
    fresh = lambda: Agreement.objects.get(pk=agreement.pk)  # noqa: E731
    if target == "draft":
        return fresh()
    cpo.agreement_send_for_signature(actor=instructor, agreement=agreement)
    if target == "sent_for_signature":
        return fresh()
    signed_on = min(datetime.date(max(agreement.first_year, FISCAL_YEAR - 2), 1, 20), today())
    if agreement.first_year > today().year:
        signed_on = min(datetime.date(FISCAL_YEAR, 10, 1), today())
    cpo.agreement_sign(actor=manager, agreement=fresh(), signed_on=signed_on)
    if target == "signed":
        return fresh()
    # The daily job as it ran then (advance due on 1 Feb), then today: unpaid 60 days → late.
    cpo.instalments_refresh(
        day=datetime.date(agreement.first_year, 2, 1), agreement_ids=[agreement.pk]
    )
    cpo.instalments_refresh(agreement_ids=[agreement.pk])
    if target == "terminated":
        return cpo.agreement_terminate(
            actor=manager,
            agreement=fresh(),
            reason="Dissolution de l'association votée en assemblée générale.",
        )
    if outcome:
        _evaluate(ctx, fresh(), agreement.first_year, outcome)
    if target == "completed":
        _evaluate(ctx, fresh(), fresh().last_year, "accept")
    if target == "suspended":
        cpo.agreement_suspend(
            actor=manager,
            agreement=fresh(),
            reason="Réserves de l'évaluation à lever avant tout nouveau versement.",
        )
    return fresh()
