"""Structural support (multi-year operating grants) and direct awards."""

from __future__ import annotations

import datetime

from core.clock import today
from core.models import (
    User,
)
from demo.context import Context
from demo.data import (
    D,
    S,
)
from demo.modes import (
    DIRECT_AWARDS,
    STRUCTURAL_CALL_TITLE,
    STRUCTURAL_FILES,
    _budget,
    _call,
    _file_data,
    _member,
    _org,
    _to_committee,
)
from grants import services
from grants.models import (
    Application,
    CommitteeSession,
)

# --------------------------------------------------------------------------- structural support


def load_structural(ctx: Context, residents: list[User]) -> bool:
    """Structural support files over 3, 4 and 5 years: filed, in committee, approved year by year."""
    from grants.direct import services as services_direct

    call = _call(ctx, STRUCTURAL_CALL_TITLE)
    if Application.objects.filter(call=call).exists():
        return False
    committee = ctx.users["comite@demo.pluriel.fr"]
    session = services.committee_session_create(
        actor=ctx.users["responsable@demo.pluriel.fr"],
        programme=ctx.programme,
        call=call,
        title="Comité du soutien aux actions structurelles",
        date=today(),
        chair=committee,
    )
    for org_index, title, requested, approved, target in STRUCTURAL_FILES:
        total = sum(requested, D("0"))
        data = _file_data(
            ctx,
            title,
            "Une action structurante portée à l'année, qui demande de la visibilité.",
            total,
            "QN01318M" if _org(ctx, org_index).postcode == "13013" else "QN01303M",
            "cohesion-sociale",
        )
        data["start_date"], data["end_date"] = (
            datetime.date(2027, 1, 1),
            datetime.date(2026 + len(requested), 12, 31),
        )
        applicant = _member(ctx, org_index)
        app = services.application_create(
            actor=applicant, organisation=_org(ctx, org_index), call=call, data=data
        )
        services_direct.application_set_years(
            actor=applicant,
            application=app,
            years=[
                {"fiscal_year": 2027 + i, "amount": amount} for i, amount in enumerate(requested)
            ],
        )
        app = Application.objects.get(pk=app.pk)
        if target == S.SUBMITTED:
            services.application_submit(actor=applicant, application=app)
            continue
        granted = sum(approved or requested, D("0"))
        app = _to_committee(ctx, app, proposed=granted, session=session)
        if target == S.APPROVED:
            if session.state == CommitteeSession.State.PLANNED:
                # Today's session, left open in the demo: its chair and a partner are present.
                session = services.committee_session_open(
                    actor=committee,
                    session=session,
                    chair=committee,
                    present=[committee, ctx.users["comite.metropole@demo.pluriel.fr"]],
                )
            services.application_approve(
                actor=committee,
                application=app,
                amount=granted,
                conditions="Évaluation annuelle avant le 30 juin de chaque année.",
                reason="Action structurante du quartier : sécurité financière sur cinq ans.",
                yearly_amounts={2027 + i: amount for i, amount in enumerate(approved)},
            )
    return True


# --------------------------------------------------------------------------- direct awards


def load_direct_awards(ctx: Context, residents: list[User]) -> bool:
    """Three direct awards opened by the instructor: one approved, one refused, one pending."""
    from grants.direct import services as services_direct
    from grants.models import ApplicationKind

    if Application.objects.filter(
        programme=ctx.programme, kind=ApplicationKind.DIRECT_AWARD
    ).exists():
        return False
    instructor, manager = (
        ctx.users["instructeur@demo.pluriel.fr"],
        ctx.users["responsable@demo.pluriel.fr"],
    )
    for org_index, title, amount, reason, decision in DIRECT_AWARDS:
        org = _org(ctx, org_index)
        qpv = "QN01341M" if org.city == "Aix-en-Provence" else "QN01303M"
        app = services_direct.direct_award_open(
            actor=instructor,
            organisation=org,
            programme=ctx.programme,
            title=title,
            summary=f"{title}. Action d'urgence, hors de tout appel.",
            requested_amount=amount,
            urgency_reason=reason,
            data={
                "qpvs": [ctx.qpvs[qpv]],
                "pillar": ctx.pillars["cohesion-sociale"],
                "budget": _budget(amount),
            },
        )
        if decision == "approve":
            services_direct.direct_award_decide(
                actor=manager,
                application=app,
                approve=True,
                amount=amount,
                reason="Urgence avérée ; crédits disponibles sur l'enveloppe.",
            )
        elif decision == "refuse":
            services_direct.direct_award_decide(
                actor=manager,
                application=app,
                approve=False,
                reason="L'action relève de l'appel à projets d'été, encore ouvert.",
            )
    return True
