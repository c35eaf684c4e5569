"""Calls for solutions: one with its vote open, one closed with published results."""

from __future__ import annotations

import datetime

from calls import services as call_services
from calls.models import Call, CallMode
from core.clock import now
from core.models import (
    User,
)
from demo.context import Context
from demo.data import (
    D,
)
from demo.modes import (
    CHALLENGE_PROPOSED,
    CHALLENGES_CLOSED,
    CHALLENGES_OPEN,
    CLOSED_BALLOTS,
    CLOSED_SOLUTIONS_CALL_TITLE,
    OPEN_BALLOTS,
    OPERATORS_CLOSED,
    OPERATORS_OPEN,
    RESIDENTS,
    SOLUTIONS_CALL_TITLE,
    _call,
    _file_data,
    _member,
    _org,
    _to_committee,
)
from grants import services
from grants.models import (
    Application,
)

# --------------------------------------------------------------------------- calls for solutions


def load_solutions(ctx: Context, residents: list[User]) -> bool:
    """The open call: challenges, a panel of 7 residents voting now. A second call whose vote is
    closed: ballots cast, allocation computed, decided and published."""
    from calls.models import Challenge

    call = _call(ctx, SOLUTIONS_CALL_TITLE)
    if Challenge.objects.filter(call=call).exists():
        return False
    _open_solutions_call(ctx, call, residents)
    _closed_solutions_call(ctx, residents)
    return True


def _seat(ctx: Context, panel, residents: list[User]) -> None:
    manager = ctx.users["responsable@demo.pluriel.fr"]
    for user, (_email, _first, _last, college) in zip(residents, RESIDENTS, strict=False):
        call_services.panel_add_member(actor=manager, panel=panel, user=user, college=college)


def _operators(ctx: Context, call: Call, challenges: list, rows: list) -> list[Application]:
    apps = []
    for org_index, title, requested, challenge in rows:
        data = _file_data(
            ctx,
            title,
            "Une action ciblée qui répond à la solution attendue par les habitant·es.",
            requested,
            challenges[challenge].qpv.code,
            "cadre-de-vie",
            challenge=challenges[challenge],
        )
        app = services.application_create(
            actor=_member(ctx, org_index), organisation=_org(ctx, org_index), call=call, data=data
        )
        apps.append(_to_committee(ctx, app, proposed=requested))
    return apps


def _open_solutions_call(ctx: Context, call: Call, residents: list[User]) -> None:
    from grants.solutions import services as solutions

    manager = ctx.users["responsable@demo.pluriel.fr"]
    moment = now()
    panel = call_services.panel_configure(
        actor=manager,
        call=call,
        quorum=4,
        voting_opens_at=moment - datetime.timedelta(days=2),
        voting_closes_at=moment + datetime.timedelta(days=12),
    )
    _seat(ctx, panel, residents)
    challenges = [
        call_services.challenge_record(
            actor=residents[0], call=call, qpv=ctx.qpvs[qpv], title=title, description=description
        )
        for qpv, title, description in CHALLENGES_OPEN
    ]
    qpv, title, description, name = CHALLENGE_PROPOSED
    call_services.challenge_propose(
        call=call, qpv=ctx.qpvs[qpv], title=title, description=description, name=name, email=""
    )
    apps = _operators(ctx, call, challenges, OPERATORS_OPEN)
    for voter, choices in OPEN_BALLOTS.items():
        solutions.ballot_cast(
            actor=residents[voter], call=call, approvals=[apps[i].pk for i in choices]
        )


def _closed_solutions_call(ctx: Context, residents: list[User]) -> None:
    """The demo cannot travel in time: the files are filed while the call is open, then the call's
    dates are set back, the panel is created with past voting dates and the ballots are written the
    way grants.solutions.services.ballot_cast writes them. The allocation then runs through the
    services."""
    import uuid

    from calls.models import Panel
    from core.audit import audit_log
    from grants.models import AllocationRun, Ballot, BallotChoice
    from grants.solutions import services as solutions

    manager = ctx.users["responsable@demo.pluriel.fr"]
    moment = now()
    call, _ = Call.objects.get_or_create(
        programme=ctx.programme,
        title=CLOSED_SOLUTIONS_CALL_TITLE,
        defaults={
            "mode": CallMode.SOLUTIONS_CALL,
            "description": "Les habitant·es du Centre-Nord ont défini la solution attendue ; leur panel a voté, "
            "les résultats sont publiés.",
            "envelope": D("30000.00"),
            "opens_at": moment - datetime.timedelta(days=70),
            "closes_at": moment + datetime.timedelta(days=1),
        },
    )
    call_services.call_transition(call=call, name="publish", actor=manager)
    call_services.call_transition(call=call, name="open", actor=manager)
    challenges = [
        call_services.challenge_record(
            actor=manager, call=call, qpv=ctx.qpvs[qpv], title=title, description=description
        )
        for qpv, title, description in CHALLENGES_CLOSED
    ]
    apps = _operators(ctx, call, challenges, OPERATORS_CLOSED)
    Call.objects.filter(pk=call.pk).update(closes_at=moment - datetime.timedelta(days=40))
    call = Call.objects.get(pk=call.pk)
    call_services.call_transition(call=call, name="close", actor=manager)
    opens, closes = moment - datetime.timedelta(days=30), moment - datetime.timedelta(days=10)
    panel = Panel.objects.create(
        call=call, quorum=4, voting_opens_at=opens, voting_closes_at=closes
    )
    _seat(ctx, panel, residents[: len(CLOSED_BALLOTS)])
    for i, (member, choices) in enumerate(
        zip(panel.members.order_by("id"), CLOSED_BALLOTS, strict=True)
    ):
        ballot = Ballot.objects.create(call=call, member=member)
        Ballot.objects.filter(pk=ballot.pk).update(cast_at=opens + datetime.timedelta(days=1 + i))
        paper = uuid.UUID(int=(call.pk << 32) + i)  # deterministic, and not linked to the voter
        BallotChoice.objects.bulk_create(
            [
                BallotChoice(call=call, paper=paper, ballot=None, application_id=apps[c].pk)
                for c in choices
            ]
        )
        audit_log(actor=member.user, obj=call, action="grants.ballot.cast", payload={})
    call_services.call_transition(call=call, name="deliberate", actor=manager)
    run = solutions.allocation_compute(actor=manager, call=call)
    run = solutions.allocation_decide(
        actor=manager,
        run=run,
        rule=AllocationRun.Rule.EQUAL_SHARES,
        reason="La méthode des parts égales représente chaque collège du panel.",
    )
    solutions.allocation_publish(actor=manager, run=run)
    call_services.call_transition(call=call, name="decide", actor=manager)
