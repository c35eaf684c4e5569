"""Load a vote held outside Pluriel into a call for solutions, from a pabulib `.pb` file: a past
vote carried into Pluriel, or a vote counted on paper or on another platform (docs/domain.md §2.3).

Two steps, as every import in Pluriel: `vote_load_check` reads the file and keeps it (nothing else
is written); the programme manager then says which of the call's candidate actions each project
is, or which organisation carries it, and `vote_load_apply` writes everything in one transaction
or nothing. After that the call is like one whose panel voted in Pluriel: the tally, both
allocation rules, the choice, the publication, the `.pb` export and the evaluation read the same
rows.

What is kept of the voters: one ballot row per voter of the file, with the file's voter id (a
pseudonym; the file's other columns — age, sex, voting method — are not stored), and, when the
panel's ballot is secret, choices that are not linked to it."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from calls.models import Call, CallMode, Panel
from core.audit import audit_log, audit_log_many
from core.clock import now
from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.fsm import lock
from core.identifiers import compact
from core.models import Organisation, Role, User
from core.permissions import has_role
from core.references import next_references

from ..models import (
    AllocationRun,
    Application,
    ApplicationState,
    Ballot,
    BallotChoice,
    VoteImport,
)
from . import pabulib
from .services import ballot_candidates

S = ApplicationState

#: A city-wide vote (60 000 voters, 80 projects) is about 2 MB; the limit leaves room.
PB_LOAD_MAX_BYTES = 30 * 1024 * 1024
#: Project columns read as the carrying organisation's SIRET, then as its name.
SIRET_COLUMNS = ("siret", "siret_beneficiaire", "organisation_siret", "beneficiary_siret")
NAME_COLUMNS = ("organisation", "organization", "beneficiaire", "beneficiary", "porteur")
_BATCH = 5_000


@dataclass(frozen=True)
class Target:
    """Where a project of the file goes: an existing candidate action of the call, or a new
    candidate action carried by an organisation (named by its SIRET)."""

    application_id: int | None = None
    siret: str = ""


def _require_manager(actor: User) -> None:
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seul·e un·e responsable de programme charge un vote."))


def _check_call(call: Call) -> Panel:
    """The call must be a call for solutions with an approval panel, no vote yet, no results."""
    if call.mode != CallMode.SOLUTIONS_CALL:
        raise DomainError(_("Seul un appel à solutions reçoit un vote."), field="call")
    panel: Panel | None = getattr(call, "panel", None)
    if panel is None:
        raise DomainError(_("Cet appel n'a pas de panel : créez-le avant de charger un vote."))
    if panel.ballot_kind != Panel.BallotKind.APPROVAL:
        raise DomainError(
            _(
                "Le format pabulib ne décrit ici que les votes par approbation : ce panel vote par notes."
            )
        )
    if Ballot.objects.filter(call=call).exists():
        raise TransitionNotAllowed(
            _(
                "Des bulletins sont déjà enregistrés pour cet appel : un vote chargé ne se mêle "
                "pas à un vote en ligne."
            ),
            allowed=[],
        )
    if AllocationRun.objects.filter(call=call).exists():
        raise TransitionNotAllowed(_("La répartition de cet appel est déjà calculée."), allowed=[])
    return panel


def _read(data: bytes) -> pabulib.Election:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(_("Le fichier doit être un texte encodé en UTF-8."), field="file")
    return pabulib.read_pb(text)


def vote_load_check(*, actor: User, call: Call, upload: UploadedFile) -> VoteImport:
    """Read the file (every error by line, nothing written but the file itself) and keep it for
    the mapping step. Refused, with the reason, when the call cannot receive a vote."""
    _require_manager(actor)
    _check_call(call)
    if upload.size is not None and upload.size > PB_LOAD_MAX_BYTES:
        raise DomainError(
            _("Le fichier dépasse %(mb)d Mo.") % {"mb": PB_LOAD_MAX_BYTES // (1024 * 1024)},
            field="file",
        )
    data = upload.read()
    election = _read(data)
    vote_import = VoteImport(
        call=call,
        original_name=(upload.name or "vote.pb")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        meta=dict(election.meta),
        voters=len(election.ballots),
        projects=len(election.projects),
        imported_by=actor,
    )
    vote_import.file.save("vote.pb", ContentFile(data), save=False)
    vote_import.save()
    return vote_import


def election_of(vote_import: VoteImport) -> pabulib.Election:
    with vote_import.file.open("rb") as handle:
        return _read(handle.read())


def _first(fields: Any, columns: tuple[str, ...]) -> str:
    lowered = {str(k).lower(): v for k, v in fields.items()}
    for column in columns:
        value = (lowered.get(column) or "").strip()
        if value:
            return value
    return ""


def proposed_targets(vote_import: VoteImport) -> list[dict[str, Any]]:
    """Each project of the file with what Pluriel proposes for it: the call's candidate action of
    the same title and cost, else the organisation named by a SIRET (or name) column."""
    election = election_of(vote_import)
    candidates = list(ballot_candidates(vote_import.call))
    by_title: dict[tuple[str, Decimal], Application] = {}
    for application in candidates:
        by_title.setdefault(
            (application.title.strip().casefold(), application.requested_amount), application
        )
    sirets = {compact(_first(p.fields, SIRET_COLUMNS)) for p in election.projects} - {""}
    names = {_first(p.fields, NAME_COLUMNS).casefold() for p in election.projects} - {""}
    organisations = {o.siret: o for o in Organisation.objects.filter(siret__in=sirets)}
    by_name: dict[str, Organisation] = {}
    if names:
        query = Q()
        for name in names:
            query |= Q(name__iexact=name)
        for organisation in Organisation.objects.filter(query).order_by("pk"):
            by_name.setdefault(organisation.name.casefold(), organisation)
    votes = Counter(pid for ballot in election.ballots.values() for pid in ballot)
    rows = []
    for project in election.projects:
        name = project.fields.get("name", "")
        match = by_title.get((name.strip().casefold(), project.cost))
        siret = compact(_first(project.fields, SIRET_COLUMNS))
        organisation = organisations.get(siret) or by_name.get(
            _first(project.fields, NAME_COLUMNS).casefold()
        )
        rows.append(
            {
                "project": project,
                "name": name,
                "votes": votes[project.id],
                "application": match,
                "organisation": None if match else organisation,
                "siret": "" if match else (organisation.siret if organisation else siret),
            }
        )
    return rows


def vote_load_apply(
    *, actor: User, vote_import: VoteImport, targets: dict[str, Target]
) -> VoteImport:
    """Write the vote: a candidate action per project (existing, or new in committee for the
    organisation given), a ballot per voter and the ballot papers; close the online vote if it was
    still to come. Every problem is reported by project and nothing is written until none is left."""
    _require_manager(actor)
    election = election_of(vote_import)
    with transaction.atomic():
        call = lock(vote_import.call)
        vote_import = lock(vote_import)
        if vote_import.state != VoteImport.State.CHECKED:
            raise TransitionNotAllowed(_("Ce vote est déjà chargé."), allowed=[])
        panel = _check_call(call)
        candidates = {a.pk: a for a in ballot_candidates(call)}
        sirets = {compact(t.siret) for t in targets.values() if t.siret}
        organisations = {o.siret: o for o in Organisation.objects.filter(siret__in=sirets)}
        errors: dict[str, list[str]] = {}
        used: dict[int, str] = {}
        resolved: dict[str, Application | Organisation] = {}
        for project in election.projects:
            target = targets.get(project.id)
            label = project.fields.get("name") or project.id
            problem = None
            if target is None or (target.application_id is None and not target.siret):
                problem = _("choisissez l'action candidate ou le SIRET de l'organisation porteuse.")
            elif target.application_id is not None:
                application = candidates.get(target.application_id)
                if application is None:
                    problem = _("cette action n'est pas soumise au vote de l'appel.")
                elif target.application_id in used:
                    problem = _("cette action est déjà choisie pour le projet « %(other)s ».") % {
                        "other": used[target.application_id]
                    }
                elif application.requested_amount != project.cost:
                    problem = _(
                        "le projet coûte %(cost)s € dans le fichier, l'action %(amount)s € : "
                        "le vote porte sur le coût du fichier."
                    ) % {"cost": project.cost, "amount": application.requested_amount}
                else:
                    used[target.application_id] = str(label)
                    resolved[project.id] = application
            else:
                organisation = organisations.get(compact(target.siret))
                if organisation is None:
                    problem = _(
                        "aucune organisation n'a le SIRET « %(siret)s » : créez-la d'abord."
                    ) % {"siret": target.siret}
                else:
                    resolved[project.id] = organisation
            if problem:
                errors[project.id] = [
                    _("Projet « %(project)s » : %(problem)s")
                    % {"project": label, "problem": problem}
                ]
        if errors:
            first = next(iter(errors.values()))[0]
            raise DomainError(first, code="vote_mapping", errors=errors)

        created = _create_actions(actor, call, election, resolved, vote_import)
        application_of = {
            pid: (target.pk if isinstance(target, Application) else created[pid])
            for pid, target in resolved.items()
        }
        ballots = Ballot.objects.bulk_create(
            [
                Ballot(call=call, vote_import=vote_import, voter_ref=str(voter)[:64])
                for voter in election.ballots
            ],
            batch_size=_BATCH,
        )
        choices = []
        for ballot, chosen in zip(ballots, election.ballots.values(), strict=True):
            paper = uuid.uuid4()
            choices.extend(
                BallotChoice(
                    call=call,
                    paper=paper,
                    ballot=None if panel.secret_ballot else ballot,
                    application_id=application_of[pid],
                    criterion="",
                    score=1,
                )
                for pid in chosen
            )
        BallotChoice.objects.bulk_create(choices, batch_size=_BATCH)

        closed_early = None
        moment = now()
        if panel.voting_closes_at > moment:
            closed_early = {
                "opens": panel.voting_opens_at.isoformat(),
                "closes": panel.voting_closes_at.isoformat(),
            }
            panel.voting_opens_at = min(panel.voting_opens_at, moment)
            panel.voting_closes_at = moment
            panel.save(update_fields=["voting_opens_at", "voting_closes_at"])
        vote_import.state = VoteImport.State.APPLIED
        vote_import.applied_at = moment
        vote_import.result = {
            "voters": len(ballots),
            "choices": len(choices),
            "matched": len(resolved) - len(created),
            "created": len(created),
            "online_vote_closed": closed_early,
        }
        vote_import.save(update_fields=["state", "applied_at", "result"])
        audit_log(
            actor=actor,
            obj=call,
            action="grants.solutions.vote_loaded",
            payload={
                "file": vote_import.sha256,
                "name": vote_import.original_name,
                **vote_import.result,
            },
        )
    return vote_import


def _create_actions(
    actor: User,
    call: Call,
    election: pabulib.Election,
    resolved: dict[str, Application | Organisation],
    vote_import: VoteImport,
) -> dict[str, int]:
    """The projects carried by an organisation become candidate actions of the call, in committee
    (the vote is their review), each with an audit row naming the file."""
    new = [p for p in election.projects if isinstance(resolved.get(p.id), Organisation)]
    if not new:
        return {}
    references = next_references(call.reference_prefix, call.programme.fiscal_year, len(new))
    applications = Application.objects.bulk_create(
        [
            Application(
                reference=reference,
                kind=call.mode,
                programme=call.programme,
                call=call,
                organisation=resolved[project.id],
                title=(project.fields.get("name") or _("Projet %(id)s") % {"id": project.id})[:255],
                summary=project.fields.get("description", "")[:5000],
                requested_amount=project.cost,
                state=S.IN_COMMITTEE,
                created_by=actor,
            )
            for reference, project in zip(references, new, strict=True)
        ]
    )
    audit_log_many(
        actor=actor,
        model=Application,
        action="grants.application.loaded_from_vote",
        entries=[
            {
                "object_id": application.pk,
                "object_repr": application.reference,
                "target": S.IN_COMMITTEE,
                "payload": {"project": project.id, "file": vote_import.sha256},
            }
            for application, project in zip(applications, new, strict=True)
        ],
    )
    return {
        project.id: application.pk for application, project in zip(applications, new, strict=True)
    }
