"""Call for solutions services: the resident panel votes, the envelope is allocated from the votes
by two rules shown side by side, the programme manager picks one (or overrides) with a reason, and
the results are published with the full tally (docs/domain.md §2.3)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from calls.models import Call, CallMode, Panel, PanelMember
from calls.services import call_panel_member
from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Role, User
from core.notifications import Msg, notify
from core.permissions import has_role

from ..eligibility import euros
from ..models import (
    AllocationRun,
    Application,
    ApplicationState,
    Ballot,
    BallotChoice,
    PanelAssessment,
)
from ..services.approval import ALLOCATION, Approval, Notice, application_grant
from . import allocation, pabulib

S = ApplicationState


def ballot_candidates(call: Call) -> QuerySet[Application]:
    """The operators' actions put to the panel's vote: files of the call in committee."""
    return (
        Application.objects.filter(call=call, state=S.IN_COMMITTEE)
        .select_related("organisation", "challenge")
        .order_by("challenge__title", "title")
    )


def voting_is_open(panel: Panel) -> bool:
    return panel.voting_opens_at <= now() < panel.voting_closes_at


def ballot_cast(
    *,
    actor: User,
    call: Call,
    approvals: list[int] | None = None,
    scores: dict[int, dict[str, int]] | None = None,
) -> Ballot:
    """Cast the actor's one ballot. Approval: the ids of the actions approved. Score: per action, a
    score per criterion. Refused outside the voting phase; a second ballot is refused by the
    database (unique voter register row), even under concurrent requests."""
    if call.mode != CallMode.SOLUTIONS_CALL:
        raise DomainError(_("Cet appel ne se vote pas."), field="call")
    member: PanelMember | None = call_panel_member(call, actor)
    if member is None:
        raise PermissionDenied(_("Seuls les membres du panel votent."))
    panel = member.panel
    if not voting_is_open(panel):
        raise TransitionNotAllowed(
            _("Le vote est ouvert du %(start)s au %(end)s.")
            % {
                "start": panel.voting_opens_at.strftime("%d/%m/%Y %H:%M"),
                "end": panel.voting_closes_at.strftime("%d/%m/%Y %H:%M"),
            },
            allowed=[],
        )
    candidates = {a.pk: a for a in ballot_candidates(call)}
    rows: list[tuple[int, str, int]] = []
    if panel.ballot_kind == Panel.BallotKind.APPROVAL:
        chosen = list(dict.fromkeys(int(x) for x in (approvals or [])))
        unknown = [x for x in chosen if x not in candidates]
        if unknown:
            raise DomainError(
                _("Ce bulletin contient des projets qui ne sont pas soumis au vote."),
                field="approvals",
            )
        rows = [(pk, "", 1) for pk in chosen]
    else:
        criteria = list(panel.score_criteria)
        for pk, per_criterion in (scores or {}).items():
            if int(pk) not in candidates:
                raise DomainError(
                    _("Ce bulletin contient des projets qui ne sont pas soumis au vote."),
                    field="scores",
                )
            for criterion, value in per_criterion.items():
                if criterion not in criteria:
                    raise DomainError(
                        _("Critère inconnu : %(c)s.") % {"c": criterion}, field="scores"
                    )
                if not 0 <= int(value) <= panel.max_score:
                    raise DomainError(
                        _("Les notes vont de 0 à %(max)d.") % {"max": panel.max_score},
                        field="scores",
                    )
                rows.append((int(pk), criterion, int(value)))
    try:
        with transaction.atomic():
            ballot = Ballot.objects.create(call=call, member=member)
            paper = uuid.uuid4()
            BallotChoice.objects.bulk_create(
                [
                    BallotChoice(
                        call=call,
                        paper=paper,
                        ballot=None if panel.secret_ballot else ballot,
                        application_id=pk,
                        criterion=criterion,
                        score=score,
                    )
                    for pk, criterion, score in rows
                ]
            )
            # The audit row records that this member voted, never how when the ballot is secret.
            audit_log(
                actor=actor,
                obj=call,
                action="grants.ballot.cast",
                payload={} if panel.secret_ballot else {"choices": [r[0] for r in rows]},
            )
    except IntegrityError:
        raise DomainError(_("Vous avez déjà voté pour cet appel."), code="already_voted")
    return ballot


def tally(call: Call) -> dict[str, Any]:
    """The full tally: voters, turnout, per action its approvals (or summed scores)."""
    panel = call.panel
    # The register: the panel's members, and the voters of a vote loaded from a file.
    members = panel.members.count() + Ballot.objects.filter(call=call, member=None).count()
    voters = Ballot.objects.filter(call=call).count()
    votes: Counter[int] = Counter()
    for application_id, score in BallotChoice.objects.filter(call=call).values_list(
        "application_id", "score"
    ):
        votes[application_id] += score
    return {
        "members": members,
        "voters": voters,
        "quorum": panel.quorum,
        "quorum_reached": voters >= panel.quorum,
        "votes": {
            str(pk): votes.get(pk, 0) for pk in ballot_candidates(call).values_list("pk", flat=True)
        },
    }


def _ballots_for_rules(call: Call) -> dict[str, Any]:
    """Ballots as the allocation rules read them: per paper, approved ids (or scores)."""
    panel = call.panel
    approval = panel.ballot_kind == Panel.BallotKind.APPROVAL
    papers: dict[str, Any] = {}
    for paper, application_id, score in BallotChoice.objects.filter(call=call).values_list(
        "paper", "application_id", "score"
    ):
        key = str(paper)
        if approval:
            papers.setdefault(key, set()).add(str(application_id))
        else:
            per = papers.setdefault(key, {})
            per[str(application_id)] = per.get(str(application_id), Decimal("0")) + Decimal(score)
    if approval:
        ballots: dict[str, Any] = {k: frozenset(v) for k, v in papers.items()}
    else:
        ballots = papers
    # Voters who returned an empty ballot still hold a share of the envelope (equal shares).
    empty = Ballot.objects.filter(call=call).count() - len(ballots)
    for i in range(max(empty, 0)):
        ballots[f"empty-{i}"] = frozenset() if approval else {}
    return ballots


def allocation_compute_check(*, actor: User, call: Call) -> dict[str, Any]:
    """Refuse, with the reason, a computation that cannot run now; else return the tally.
    Called before a background computation is queued, and again by the computation."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme lance la répartition."))
    panel = call.panel
    if now() < panel.voting_closes_at:
        raise TransitionNotAllowed(
            _("La répartition se calcule après la clôture du vote."), allowed=[]
        )
    if AllocationRun.objects.filter(call=call, published_at__isnull=False).exists():
        raise TransitionNotAllowed(_("Les résultats sont déjà publiés."), allowed=[])
    counted = tally(call)
    if not counted["quorum_reached"]:
        raise DomainError(
            _("Le quorum n'est pas atteint : %(v)d votant·es pour %(q)d requis·es.")
            % {"v": counted["voters"], "q": counted["quorum"]},
            code="quorum",
        )
    if not ballot_candidates(call).exists():
        raise DomainError(_("Aucun projet n'a été soumis au vote."))
    return counted


def allocation_compute(
    *, actor: User, call: Call, progress: Callable[[int], None] | None = None
) -> AllocationRun:
    """After the vote: compute both rules side by side on the call's envelope. `progress` is
    called with the number of Add1 rounds done (see grants.jobs_solutions, which runs this in
    the background)."""
    counted = allocation_compute_check(actor=actor, call=call)
    projects = [
        allocation.Project(id=str(a.pk), cost=a.requested_amount) for a in ballot_candidates(call)
    ]
    ballots = _ballots_for_rules(call)
    greedy = allocation.greedy_by_votes(projects, ballots, call.envelope)
    mes = allocation.method_of_equal_shares(projects, ballots, call.envelope, progress=progress)
    # Who paid what, aggregated per project (never per voter: the ballot may be secret).
    counted["equal_shares"] = equal_shares_summary(mes)
    with transaction.atomic():
        run = AllocationRun.objects.create(
            call=call,
            budget=call.envelope,
            tally=counted,
            greedy_selection=list(greedy.selected),
            equal_shares_selection=list(mes.selected),
            equal_shares_variant=mes.variant,
            computed_by=actor,
        )
        audit_log(
            actor=actor,
            obj=call,
            action="grants.solutions.allocation.computed",
            payload={
                "run": run.pk,
                "greedy": list(greedy.selected),
                "equal_shares": list(mes.selected),
                "variant": mes.variant,
            },
        )
    return run


def equal_shares_summary(result: allocation.AllocationResult) -> dict[str, Any]:
    """The equal-shares result as the results page explains it, aggregated per project: how many
    supporters paid for it and how much each paid (lowest and highest share), the voter's virtual
    share, the Add1 rounds and the projects added by the greedy completion. No voter id."""
    payments: dict[str, Any] = {}
    for pid, paid in result.payments.items():
        amounts = [amount for amount in paid.values() if amount > 0]
        payments[str(pid)] = {
            "supporters": len(paid),
            "payers": len(amounts),
            "min": str(min(amounts, default=Decimal("0"))),
            "max": str(max(amounts, default=Decimal("0"))),
            "total": str(sum(paid.values(), Decimal("0"))),
        }
    share = result.voter_share
    return {
        "variant": result.variant,
        "add1_rounds": result.add1_rounds,
        "completed": list(result.completed),
        "voter_share": str(
            (Decimal(share.numerator) / Decimal(share.denominator)).quantize(Decimal("0.01"))
        )
        if share is not None
        else None,
        "payments": payments,
    }


def allocation_decide(
    *, actor: User, run: AllocationRun, rule: str, reason: str, selection: list[int] | None = None
) -> AllocationRun:
    """The programme manager picks the greedy rule, equal shares, or overrides with an explicit
    selection — always with a reason, audited. The selection never exceeds the envelope."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme retient la répartition."))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Motivez le choix de la répartition."), field="reason")
    with transaction.atomic():
        run = lock(run)
        if run.published_at:
            raise TransitionNotAllowed(_("Les résultats sont déjà publiés."), allowed=[])
        if rule == AllocationRun.Rule.GREEDY:
            chosen = list(run.greedy_selection)
        elif rule == AllocationRun.Rule.EQUAL_SHARES:
            chosen = list(run.equal_shares_selection)
        elif rule == AllocationRun.Rule.OVERRIDE:
            chosen = [str(int(x)) for x in (selection or [])]
            candidates = {
                str(pk): amount
                for pk, amount in ballot_candidates(run.call).values_list("pk", "requested_amount")
            }
            if any(pk not in candidates for pk in chosen):
                raise DomainError(
                    _("La sélection contient des projets qui n'étaient pas soumis au vote."),
                    field="selection",
                )
            total = sum((candidates[pk] for pk in chosen), Decimal("0"))
            if total > run.budget:
                raise DomainError(
                    _("La sélection (%(t)s) dépasse l'enveloppe (%(b)s).")
                    % {"t": euros(total), "b": euros(run.budget)},
                    field="selection",
                )
        else:
            raise DomainError(_("Règle inconnue."), field="rule")
        run.chosen_rule, run.chosen_selection, run.reason, run.decided_by = (
            rule,
            chosen,
            reason,
            actor,
        )
        run.save(update_fields=["chosen_rule", "chosen_selection", "reason", "decided_by"])
        audit_log(
            actor=actor,
            obj=run.call,
            action="grants.solutions.allocation.decided",
            reason=reason,
            payload={"run": run.pk, "rule": rule, "selection": chosen},
        )
    return run


def allocation_publish(
    *, actor: User, run: AllocationRun, envelope_override_reason: str = ""
) -> AllocationRun:
    """Publish the results: the chosen operators' files are approved for their requested amount,
    the others rejected with the tally as reason; the panel is told. All or nothing.

    Each approval goes through the one decision path (grants.services.approval): a file with a
    pending completion request blocks the publication, and so does going beyond the call's
    envelope, unless the programme manager forces it with `envelope_override_reason` (audited)."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme publie les résultats."))
    with transaction.atomic():
        run = lock(run)
        if run.published_at:
            return run
        if not run.chosen_rule:
            raise TransitionNotAllowed(_("Choisissez d'abord la règle de répartition."), allowed=[])
        chosen = {int(x) for x in run.chosen_selection}
        votes = run.tally.get("votes", {})
        for pk in list(ballot_candidates(run.call).values_list("pk", flat=True)):
            application = lock(Application(pk=pk))
            if application.pk in chosen:
                application_grant(
                    actor=actor,
                    application=application,
                    path=ALLOCATION,
                    approval=Approval(
                        amount=application.requested_amount,
                        reason=_("Retenu par le panel d'habitant·es (%(rule)s).")
                        % {"rule": run.get_chosen_rule_display()},
                        audit_reason=run.reason,
                        envelope_override_reason=envelope_override_reason,
                        payload={"votes": votes.get(str(application.pk), 0)},
                        notice=Notice(
                            Msg(
                                gettext_noop("Résultats du vote : %(ref)s"),
                                ref=application.reference,
                            )
                        ),
                    ),
                )
                continue
            application.decided_at, application.decided_by = now(), actor
            application.decision_reason = _(
                "Non retenu à l'issue du vote du panel (%(n)s voix)."
            ) % {"n": votes.get(str(application.pk), 0)}
            apply_transition(
                application,
                "reject",
                actor=actor,
                action="grants.application.rejected",
                reason=application.decision_reason,
                update_fields=["decided_at", "decided_by", "decision_reason"],
            )
            notify(
                users=application.organisation.members.all(),
                title=Msg(gettext_noop("Résultats du vote : %(ref)s"), ref=application.reference),
                url=f"/dossiers/{application.pk}/",
            )
        run.published_at = now()
        run.save(update_fields=["published_at"])
        audit_log(
            actor=actor,
            obj=run.call,
            action="grants.solutions.allocation.published",
            payload={"run": run.pk, "selection": sorted(chosen)},
        )
        notify(
            users=[m.user for m in run.call.panel.members.select_related("user")],
            title=Msg(gettext_noop("Résultats publiés : %(call)s"), call=run.call.title),
            url=f"/appels/{run.call_id}/resultats/",
        )
    return run


def panel_assessment_record(
    *, actor: User, application: Application, fiscal_year: int, rating: str, comment: str = ""
) -> PanelAssessment:
    """A panel member's assessment of a chosen project, stored with that year's evaluation."""
    if application.call is None or application.call.mode != CallMode.SOLUTIONS_CALL:
        raise DomainError(_("Seuls les projets d'un appel à solutions sont évalués par le panel."))
    member = call_panel_member(application.call, actor)
    if member is None:
        raise PermissionDenied(
            _("Seuls les membres du panel de cet appel donnent leur appréciation.")
        )
    if application.state != S.APPROVED:
        raise TransitionNotAllowed(_("Seuls les projets retenus sont évalués."), allowed=[])
    if rating not in PanelAssessment.Rating.values:
        raise DomainError(_("Appréciation inconnue."), field="rating")
    with transaction.atomic():
        row, _created = PanelAssessment.objects.update_or_create(
            application=application,
            member=member,
            fiscal_year=fiscal_year,
            defaults={"rating": rating, "comment": (comment or "").strip()},
        )
        audit_log(
            actor=actor,
            obj=application,
            action="grants.panel.assessment_recorded",
            payload={"fiscal_year": fiscal_year, "rating": rating},
        )
    return row


# --------------------------------------------------------------------------- results, pabulib


def latest_run(call: Call) -> AllocationRun | None:
    """The call's current allocation: the published one, else the last computed."""
    runs = AllocationRun.objects.filter(call=call).select_related("decided_by", "computed_by")
    return runs.filter(published_at__isnull=False).first() or runs.first()


def _rule_side(
    result_ids: list[str], rows: dict[str, dict[str, Any]], budget: Decimal
) -> dict[str, Any]:
    selected = [rows[pid] for pid in result_ids if pid in rows]
    total = sum((row["cost"] for row in selected), Decimal("0"))
    return {
        "selected": selected,
        "ids": list(result_ids),
        "total": total,
        "remaining": budget - total,
    }


def allocation_report(run: AllocationRun) -> dict[str, Any]:
    """Everything the results page shows of a run: every action put to the vote with its cost and
    votes, both rules side by side (selection, total, remaining; for equal shares, what the
    supporters paid, aggregated per project), the choice and the turnout. No voter is named."""
    counted = run.tally
    votes: dict[str, int] = counted.get("votes", {})
    applications = Application.objects.filter(pk__in=[int(pk) for pk in votes]).select_related(
        "organisation", "challenge"
    )
    es = counted.get("equal_shares", {})
    payments = es.get("payments", {})
    completed = set(es.get("completed", []))
    chosen = {str(x) for x in run.chosen_selection}
    rows: dict[str, dict[str, Any]] = {}
    for application in applications:
        pid = str(application.pk)
        paid = payments.get(pid)
        rows[pid] = {
            "id": pid,
            "application": application,
            "cost": application.requested_amount,
            "votes": votes.get(pid, 0),
            "chosen": pid in chosen,
            "completed": pid in completed,
            "payment": _decimal_payment(paid),
        }
    ordered = sorted(rows.values(), key=lambda r: (-r["votes"], r["cost"], r["id"]))
    members, voters = counted.get("members", 0), counted.get("voters", 0)
    chosen_rows = [rows[pid] for pid in run.chosen_selection if str(pid) in rows]
    chosen_total = sum((row["cost"] for row in chosen_rows), Decimal("0"))
    return {
        "run": run,
        "rows": ordered,
        "budget": run.budget,
        "greedy": _rule_side(list(run.greedy_selection), rows, run.budget),
        "equal_shares": {
            **_rule_side(list(run.equal_shares_selection), rows, run.budget),
            "variant": run.equal_shares_variant,
            "variant_label": completion_label(run.equal_shares_variant),
            "add1_rounds": es.get("add1_rounds", 0),
            "voter_share": Decimal(es["voter_share"]) if es.get("voter_share") else None,
            # The share before any completion: the envelope divided by the voters. The « Add1 »
            # completion raises it step by step while the envelope has money left, which is why
            # the share shown can be larger (issue #16: 5 667 € shown against 5 000 €).
            "initial_share": (run.budget / voters).quantize(Decimal("0.01")) if voters else None,
        },
        "chosen": {
            "rule": run.chosen_rule,
            "label": run.get_chosen_rule_display() if run.chosen_rule else "",
            "selected": chosen_rows,
            "total": chosen_total,
            "remaining": run.budget - chosen_total,
            "reason": run.reason,
        },
        "members": members,
        "voters": voters,
        "quorum": counted.get("quorum", 0),
        "quorum_reached": counted.get("quorum_reached", False),
        "turnout": Decimal(voters * 100) / Decimal(members) if members else Decimal("0"),
    }


def completion_label(variant: str) -> str:
    """What the completion step of the method of equal shares does, in plain words (the internal
    names « add1_greedy », « add1 »… are not for residents)."""
    from .allocation import (
        COMPLETION_ADD1,
        COMPLETION_ADD1_GREEDY,
        COMPLETION_GREEDY,
        COMPLETION_NONE,
    )

    labels = {
        COMPLETION_ADD1_GREEDY: _(
            "s'il reste de l'argent, la part de chaque votant·e est relevée pas à pas tant que "
            "l'enveloppe le permet, puis le reste va aux actions les plus soutenues qui y tiennent "
            "encore"
        ),
        COMPLETION_ADD1: _(
            "s'il reste de l'argent, la part de chaque votant·e est relevée pas à pas tant que "
            "l'enveloppe le permet"
        ),
        COMPLETION_GREEDY: _(
            "s'il reste de l'argent, il va aux actions les plus soutenues qui y tiennent encore"
        ),
        COMPLETION_NONE: _("l'argent qui reste n'est pas réparti"),
    }
    return str(labels.get(variant, variant))


def election_for_call(call: Call) -> pabulib.Election:
    """The call's election in the pabulib format: projects = the actions put to the vote (cost,
    votes, title), voters = the ballot papers, anonymised (numbered in paper order, which is random),
    meta with the envelope, the rule used and the description. Approval ballots only."""
    panel = getattr(call, "panel", None)
    if panel is None:
        raise DomainError(_("Cet appel n'a pas de panel."))
    if panel.ballot_kind != Panel.BallotKind.APPROVAL:
        raise DomainError(_("Le format pabulib ne décrit ici que les votes par approbation."))
    run = latest_run(call)
    counted = run.tally if run is not None else tally(call)
    ids = [int(pk) for pk in counted.get("votes", {})]
    applications = (
        Application.objects.filter(pk__in=ids).select_related("organisation").order_by("pk")
    )
    chosen = {str(x) for x in run.chosen_selection} if run is not None and run.chosen_rule else None
    papers: dict[str, set[str]] = {}
    for paper, application_id in (
        BallotChoice.objects.filter(call=call)
        .order_by("paper")
        .values_list("paper", "application_id")
    ):
        papers.setdefault(str(paper), set()).add(str(application_id))
    ballots = [frozenset(v) for _k, v in sorted(papers.items())]
    ballots += [frozenset()] * max(Ballot.objects.filter(call=call).count() - len(ballots), 0)
    projects = []
    for application in applications:
        fields = {
            "votes": str(counted["votes"].get(str(application.pk), 0)),
            "name": application.title,
        }
        if chosen is not None:
            fields["selected"] = "1" if str(application.pk) in chosen else "0"
        projects.append(
            pabulib.PbProject(
                id=str(application.pk), cost=application.requested_amount, fields=fields
            )
        )
    rule = (
        {
            AllocationRun.Rule.GREEDY: "greedy",
            AllocationRun.Rule.EQUAL_SHARES: f"equalshares/{run.equal_shares_variant}"
            if run
            else "equalshares",
            AllocationRun.Rule.OVERRIDE: "override",
        }.get(run.chosen_rule, "")
        if run is not None
        else ""
    )
    meta = {
        "description": call.title,
        "country": "France",
        "unit": call.programme.name,
        "instance": str(call.programme.fiscal_year),
        "num_projects": str(len(projects)),
        "num_votes": str(len(ballots)),
        "budget": f"{call.envelope:.2f}",
        "vote_type": "approval",
        "rule": rule,
        "currency": "EUR",
    }
    return pabulib.Election(
        meta=meta,
        projects=tuple(projects),
        ballots={str(i): ballot for i, ballot in enumerate(ballots, start=1)},
        project_columns=("cost", "votes", "name", *(("selected",) if chosen is not None else ())),
        vote_columns=("vote",),
    )


def election_what_if(text: str) -> dict[str, Any]:
    """Both rules on an uploaded `.pb` election (a what-if: nothing is written). Malformed files
    raise the pabulib reader's DomainError listing every error with its line number."""
    election = pabulib.read_pb(text)
    projects = election.allocation_projects()
    greedy = allocation.greedy_by_votes(projects, election.ballots, election.budget)
    mes = allocation.method_of_equal_shares(projects, election.ballots, election.budget)
    names = {p.id: p.fields.get("name", "") for p in election.projects}
    costs = {p.id: p.cost for p in election.projects}
    summary = equal_shares_summary(mes)

    def side(result: allocation.AllocationResult) -> dict[str, Any]:
        return {
            "selected": [
                {
                    "id": pid,
                    "name": names[pid],
                    "cost": costs[pid],
                    "votes": result.votes[pid],
                    "payment": _decimal_payment(summary["payments"].get(pid))
                    if result is mes
                    else None,
                    "completed": pid in result.completed,
                }
                for pid in result.selected
            ],
            "total": result.total_cost,
            "remaining": result.remaining,
        }

    return {
        "election": election,
        "budget": election.budget,
        "voters": len(election.ballots),
        "projects": len(election.projects),
        "greedy": side(greedy),
        "equal_shares": side(mes),
        "variant": mes.variant,
        "description": election.meta.get("description", ""),
    }


def _decimal_payment(paid: dict[str, Any] | None) -> dict[str, Any] | None:
    if not paid:
        return None
    return {k: Decimal(v) if k in ("min", "max", "total") else v for k, v in paid.items()}


def panel_assessments_invite(*, actor: User, call: Call, fiscal_year: int) -> int:
    """Invite the call's panel to the annual evaluation of the projects it chose: each member is
    notified with the link to their assessment page. Returns how many were invited."""
    if not has_role(actor, Role.PROGRAMME_MANAGER, Role.INSTRUCTOR):
        raise PermissionDenied(_("Seule l'équipe invite le panel à l'évaluation."))
    if call.mode != CallMode.SOLUTIONS_CALL or not hasattr(call, "panel"):
        raise DomainError(_("Seul le panel d'un appel à solutions évalue les projets choisis."))
    chosen = Application.objects.filter(call=call, state=S.APPROVED)
    if not chosen.exists():
        raise TransitionNotAllowed(_("Aucun projet retenu à évaluer pour cet appel."), allowed=[])
    members = [m.user for m in call.panel.members.select_related("user")]
    with transaction.atomic():
        notify(
            users=members,
            title=Msg(
                gettext_noop("Évaluation %(year)s : votre appréciation des projets choisis"),
                year=fiscal_year,
            ),
            body=Msg(
                gettext_noop(
                    "Le panel a choisi %(n)s projet(s) pour « %(call)s ». Dites comment ils ont "
                    "répondu aux solutions attendues."
                ),
                n=chosen.count(),
                call=call.title,
            ),
            url=f"/appels-a-solutions/{call.pk}/evaluation/{fiscal_year}/",
        )
        audit_log(
            actor=actor,
            obj=call,
            action="grants.panel.assessment_invited",
            payload={"fiscal_year": fiscal_year, "members": len(members)},
        )
    return len(members)


def panel_assessment_sheet(
    *, call: Call, fiscal_year: int, member: PanelMember | None
) -> list[dict]:
    """The projects the panel chose, each with this member's assessment (if any) and everyone's
    ratings counted — what the evaluation page and the instructor's review show."""
    chosen = list(
        Application.objects.filter(call=call, state=S.APPROVED)
        .select_related("organisation", "challenge")
        .order_by("title")
    )
    assessments = PanelAssessment.objects.filter(
        application__in=chosen, fiscal_year=fiscal_year
    ).select_related("member__user")
    by_app: dict[int, list[PanelAssessment]] = {}
    for row in assessments:
        by_app.setdefault(row.application_id, []).append(row)
    sheet = []
    for application in chosen:
        rows = by_app.get(application.pk, [])
        mine = next((r for r in rows if member is not None and r.member_id == member.pk), None)
        counts = Counter(r.rating for r in rows)
        sheet.append(
            {
                "application": application,
                "mine": mine,
                "ratings": [
                    (label, counts.get(value, 0)) for value, label in PanelAssessment.Rating.choices
                ],
                "comments": [r.comment for r in rows if r.comment],
            }
        )
    return sheet
