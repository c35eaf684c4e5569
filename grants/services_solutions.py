"""Call for solutions services: the resident panel votes, the envelope is allocated from the votes
by two rules shown side by side, the programme manager picks one (or overrides) with a reason, and
the results are published with the full tally (DOMAIN.md §2.3)."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from calls.models import Call, CallMode, Panel, PanelMember
from calls.services import call_panel_member
from core.audit import audit_log
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import apply_transition, lock
from core.models import Role, User
from core.notifications import notify
from core.permissions import has_role

from . import allocation
from .eligibility import euros
from .models import (
    AllocationRun,
    Application,
    ApplicationState,
    Ballot,
    BallotChoice,
    PanelAssessment,
)

S = ApplicationState


def ballot_candidates(call: Call) -> QuerySet[Application]:
    """The operators' actions put to the panel's vote: files of the call in committee."""
    return (Application.objects.filter(call=call, state=S.IN_COMMITTEE)
            .select_related("organisation", "challenge").order_by("challenge__title", "title"))


def voting_is_open(panel: Panel) -> bool:
    return panel.voting_opens_at <= now() < panel.voting_closes_at


def ballot_cast(*, actor: User, call: Call, approvals: list[int] | None = None,
                scores: dict[int, dict[str, int]] | None = None) -> Ballot:
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
            % {"start": panel.voting_opens_at.strftime("%d/%m/%Y %H:%M"),
               "end": panel.voting_closes_at.strftime("%d/%m/%Y %H:%M")}, allowed=[])
    candidates = {a.pk: a for a in ballot_candidates(call)}
    rows: list[tuple[int, str, int]] = []
    if panel.ballot_kind == Panel.BallotKind.APPROVAL:
        chosen = list(dict.fromkeys(int(x) for x in (approvals or [])))
        unknown = [x for x in chosen if x not in candidates]
        if unknown:
            raise DomainError(_("Ce bulletin contient des projets qui ne sont pas soumis au vote."), field="approvals")
        rows = [(pk, "", 1) for pk in chosen]
    else:
        criteria = list(panel.score_criteria)
        for pk, per_criterion in (scores or {}).items():
            if int(pk) not in candidates:
                raise DomainError(_("Ce bulletin contient des projets qui ne sont pas soumis au vote."), field="scores")
            for criterion, value in per_criterion.items():
                if criterion not in criteria:
                    raise DomainError(_("Critère inconnu : %(c)s.") % {"c": criterion}, field="scores")
                if not 0 <= int(value) <= panel.max_score:
                    raise DomainError(_("Les notes vont de 0 à %(max)d.") % {"max": panel.max_score}, field="scores")
                rows.append((int(pk), criterion, int(value)))
    try:
        with transaction.atomic():
            ballot = Ballot.objects.create(call=call, member=member)
            paper = uuid.uuid4()
            BallotChoice.objects.bulk_create([
                BallotChoice(call=call, paper=paper, ballot=None if panel.secret_ballot else ballot,
                             application_id=pk, criterion=criterion, score=score)
                for pk, criterion, score in rows])
            # The audit row records that this member voted, never how when the ballot is secret.
            audit_log(actor=actor, obj=call, action="grants.ballot.cast",
                      payload={} if panel.secret_ballot else {"choices": [r[0] for r in rows]})
    except IntegrityError:
        raise DomainError(_("Vous avez déjà voté pour cet appel."), code="already_voted")
    return ballot


def tally(call: Call) -> dict[str, Any]:
    """The full tally: voters, turnout, per action its approvals (or summed scores)."""
    panel = call.panel
    members = panel.members.count()
    voters = Ballot.objects.filter(call=call).count()
    votes: Counter[int] = Counter()
    for application_id, score in BallotChoice.objects.filter(call=call).values_list("application_id", "score"):
        votes[application_id] += score
    return {"members": members, "voters": voters, "quorum": panel.quorum, "quorum_reached": voters >= panel.quorum,
            "votes": {str(pk): votes.get(pk, 0) for pk in ballot_candidates(call).values_list("pk", flat=True)}}


def _ballots_for_rules(call: Call) -> dict[str, Any]:
    """Ballots as the allocation rules read them: per paper, approved ids (or scores)."""
    panel = call.panel
    approval = panel.ballot_kind == Panel.BallotKind.APPROVAL
    papers: dict[str, Any] = {}
    for paper, application_id, score in BallotChoice.objects.filter(call=call).values_list(
            "paper", "application_id", "score"):
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


def allocation_compute(*, actor: User, call: Call) -> AllocationRun:
    """After the vote: compute both rules side by side on the call's envelope."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme lance la répartition."))
    panel = call.panel
    if now() < panel.voting_closes_at:
        raise TransitionNotAllowed(_("La répartition se calcule après la clôture du vote."), allowed=[])
    counted = tally(call)
    if not counted["quorum_reached"]:
        raise DomainError(_("Le quorum n'est pas atteint : %(v)d votant·es pour %(q)d requis·es.")
                          % {"v": counted["voters"], "q": counted["quorum"]}, code="quorum")
    projects = [allocation.Project(id=str(a.pk), cost=a.requested_amount) for a in ballot_candidates(call)]
    if not projects:
        raise DomainError(_("Aucun projet n'a été soumis au vote."))
    ballots = _ballots_for_rules(call)
    greedy = allocation.greedy_by_votes(projects, ballots, call.envelope)
    mes = allocation.method_of_equal_shares(projects, ballots, call.envelope)
    with transaction.atomic():
        run = AllocationRun.objects.create(
            call=call, budget=call.envelope, tally=counted, greedy_selection=list(greedy.selected),
            equal_shares_selection=list(mes.selected), equal_shares_variant=mes.variant, computed_by=actor)
        audit_log(actor=actor, obj=call, action="grants.allocation.computed",
                  payload={"run": run.pk, "greedy": list(greedy.selected), "equal_shares": list(mes.selected),
                           "variant": mes.variant})
    return run


def allocation_decide(*, actor: User, run: AllocationRun, rule: str, reason: str,
                      selection: list[int] | None = None) -> AllocationRun:
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
            candidates = {str(pk): amount for pk, amount in
                          ballot_candidates(run.call).values_list("pk", "requested_amount")}
            if any(pk not in candidates for pk in chosen):
                raise DomainError(_("La sélection contient des projets qui n'étaient pas soumis au vote."),
                                  field="selection")
            total = sum((candidates[pk] for pk in chosen), Decimal("0"))
            if total > run.budget:
                raise DomainError(_("La sélection (%(t)s) dépasse l'enveloppe (%(b)s).")
                                  % {"t": euros(total), "b": euros(run.budget)}, field="selection")
        else:
            raise DomainError(_("Règle inconnue."), field="rule")
        run.chosen_rule, run.chosen_selection, run.reason, run.decided_by = rule, chosen, reason, actor
        run.save(update_fields=["chosen_rule", "chosen_selection", "reason", "decided_by"])
        audit_log(actor=actor, obj=run.call, action="grants.allocation.decided", reason=reason,
                  payload={"run": run.pk, "rule": rule, "selection": chosen})
    return run


def allocation_publish(*, actor: User, run: AllocationRun) -> AllocationRun:
    """Publish the results: the chosen operators' files are approved for their requested amount,
    the others rejected with the tally as reason; the panel is told. All or nothing."""
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
                application.approved_amount = application.requested_amount
                application.decided_at, application.decided_by = now(), actor
                application.decision_reason = _("Retenu par le panel d'habitant·es (%(rule)s).") % {
                    "rule": run.get_chosen_rule_display()}
                apply_transition(application, "approve", actor=actor, action="grants.application.approved",
                                 reason=run.reason, payload={"amount": application.approved_amount,
                                                             "votes": votes.get(str(application.pk), 0)},
                                 update_fields=["approved_amount", "decided_at", "decided_by", "decision_reason"])
            else:
                application.decided_at, application.decided_by = now(), actor
                application.decision_reason = _("Non retenu à l'issue du vote du panel (%(n)s voix).") % {
                    "n": votes.get(str(application.pk), 0)}
                apply_transition(application, "reject", actor=actor, action="grants.application.rejected",
                                 reason=application.decision_reason,
                                 update_fields=["decided_at", "decided_by", "decision_reason"])
            notify(users=application.organisation.members.all(),
                   title=_("Résultats du vote : %(ref)s") % {"ref": application.reference},
                   url=f"/dossiers/{application.pk}/")
        run.published_at = now()
        run.save(update_fields=["published_at"])
        audit_log(actor=actor, obj=run.call, action="grants.allocation.published",
                  payload={"run": run.pk, "selection": sorted(chosen)})
        notify(users=[m.user for m in run.call.panel.members.select_related("user")],
               title=_("Résultats publiés : %(call)s") % {"call": run.call.title},
               url=f"/appels/{run.call_id}/resultats/")
    return run


def panel_assessment_record(*, actor: User, application: Application, fiscal_year: int, rating: str,
                            comment: str = "") -> PanelAssessment:
    """A panel member's assessment of a chosen project, stored with that year's evaluation."""
    if application.call is None or application.call.mode != CallMode.SOLUTIONS_CALL:
        raise DomainError(_("Seuls les projets d'un appel à solutions sont évalués par le panel."))
    member = call_panel_member(application.call, actor)
    if member is None:
        raise PermissionDenied(_("Seuls les membres du panel de cet appel donnent leur appréciation."))
    if application.state != S.APPROVED:
        raise TransitionNotAllowed(_("Seuls les projets retenus sont évalués."), allowed=[])
    if rating not in PanelAssessment.Rating.values:
        raise DomainError(_("Appréciation inconnue."), field="rating")
    with transaction.atomic():
        row, _created = PanelAssessment.objects.update_or_create(
            application=application, member=member, fiscal_year=fiscal_year,
            defaults={"rating": rating, "comment": (comment or "").strip()})
        audit_log(actor=actor, obj=application, action="grants.panel.assessment_recorded",
                  payload={"fiscal_year": fiscal_year, "rating": rating})
    return row
