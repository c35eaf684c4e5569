"""Bulk actions of the instruction: one action on many files, each file through its own service.

An instructor picks files in the queue (ticked ids, or « every file matching these filters »,
resolved through the same queue selector and so the same territorial scope) and one action. Each
file goes through the single-file service (same permission check, same audit row, same
notifications) in its own savepoint, committed by batches of COMMIT_EVERY files; a file where the action is not allowed now is skipped with
the reason, never half-changed. The outcome of every file is stored (BulkActionItem), so the result
page lists each one and « retry the skipped ones » re-runs only those.

Idempotent: an item is marked done in the same transaction as the action (and the notification's
email is enqueued on that transaction's commit), so a worker killed halfway and the job redelivered
never acts on a file, nor messages an applicant, twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils.dateparse import parse_date
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from core.clock import now, today
from core.errors import DomainError, PermissionDenied
from core.fsm import allowed_transition_names
from core.models import BackgroundJob, Role, User
from core.notifications import Msg
from core.permissions import has_role
from core.tabular.writer import CsvDialect, csv_bytes, csv_dialect

from ..models import Application, BulkAction, BulkActionItem, CommitteeSession
from ..selectors import instructor_queue
from .instruction import application_assign
from .messaging import application_message_applicants
from .workflow import S, instructor_of, instructor_of_many, transition_specs

BULK_JOB = "grants.bulk_action"
DEFAULT_JOB_THRESHOLD = 30
COMMIT_EVERY = 100
"""Files acted on per commit: a commit costs a disk flush, ~10 ms, more than the action itself."""
SET_BASED_COMMIT_EVERY = 1000
"""The same for an action with a set-based service, whose cost per batch is a few statements:
larger batches amortise them (and write the audit rows by COPY on PostgreSQL, above
core.audit.COPY_ABOVE); the rows of a batch stay locked ~1 s."""
Item = BulkActionItem.Status


def job_threshold() -> int:
    """Above this many files, the action runs as a background job (setting BULK_ACTION_JOB_THRESHOLD)."""
    return int(getattr(settings, "BULK_ACTION_JOB_THRESHOLD", DEFAULT_JOB_THRESHOLD))


# --------------------------------------------------------------------------- the actions

Runner = Callable[[User, Application, Mapping[str, Any]], None]


ManyRunner = Callable[[User, list[Application], Mapping[str, Any]], dict[int, str]]
"""A set-based runner: acts on all the files it can, returns {application id: reason refused}."""


@dataclass(frozen=True)
class BulkSpec:
    name: str
    label: str | Promise
    fields: tuple[str, ...]
    run: Runner
    transition: str = ""
    run_many: ManyRunner | None = None


def _transition_runner(name: str, data: Callable[[Application, Mapping[str, Any]], dict[str, Any]]):
    def run(actor: User, application: Application, params: Mapping[str, Any]) -> None:
        transition_specs()[name].run(
            actor=actor, application=application, data=data(application, params)
        )

    return run


def _transition_many_runner(
    name: str, data: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> ManyRunner:
    """The transition's set-based service (grants.transitions, `Transition.many`), same inputs."""

    def run(
        actor: User, applications: list[Application], params: Mapping[str, Any]
    ) -> dict[int, str]:
        result = transition_specs()[name].run_many(
            actor=actor, applications=applications, data=data(params)
        )
        return {pk: str(exc.message) for pk, exc in result.refused.items()}

    return run


def _assign(actor: User, application: Application, params: Mapping[str, Any]) -> None:
    instructor = User.objects.get(pk=params["instructor"])
    application_assign(actor=actor, application=application, instructor=instructor)


def _message(actor: User, application: Application, params: Mapping[str, Any]) -> None:
    application_message_applicants(
        actor=actor,
        application=application,
        subject=params.get("subject", ""),
        message=params["message"],
    )


def _export(actor: User, application: Application, params: Mapping[str, Any]) -> None:
    """Nothing changes: the file joins the export (bulk_export_csv) once its access is checked."""
    if not instructor_of(actor, application):
        raise PermissionDenied(_("Vous n'avez pas le droit d'exporter ce dossier."))


def _committee_data(application: Application, params: Mapping[str, Any]) -> dict[str, Any]:
    session = CommitteeSession.objects.filter(pk=params["session"]).first()
    amount = application.proposed_amount
    if amount is None:
        amount = application.requested_amount
    return {"proposed_amount": amount, "session": session, "note": ""}


ACTIONS: Mapping[str, BulkSpec] = {
    spec.name: spec
    for spec in (
        BulkSpec(
            "assign", gettext_lazy("Attribuer à un·e instructeur·rice"), ("instructor",), _assign
        ),
        BulkSpec(
            "declare_eligible",
            gettext_lazy("Déclarer recevable"),
            (),
            _transition_runner("declare_eligible", lambda a, p: {"reason": ""}),
            transition="declare_eligible",
            run_many=_transition_many_runner("declare_eligible", lambda p: {"reason": ""}),
        ),
        BulkSpec(
            "start_review",
            gettext_lazy("Commencer l'instruction"),
            (),
            _transition_runner("start_review", lambda a, p: {"reason": ""}),
            transition="start_review",
            run_many=_transition_many_runner("start_review", lambda p: {"reason": ""}),
        ),
        BulkSpec(
            "request_completion",
            gettext_lazy("Demander des compléments"),
            ("message", "deadline"),
            _transition_runner(
                "request_completion",
                lambda a, p: {"message": p["message"], "deadline": parse_date(p["deadline"])},
            ),
            transition="request_completion",
        ),
        BulkSpec(
            "send_to_committee",
            gettext_lazy("Inscrire en comité"),
            ("session",),
            _transition_runner("send_to_committee", _committee_data),
            transition="send_to_committee",
        ),
        BulkSpec(
            "dismiss",
            gettext_lazy("Classer sans suite"),
            ("reason",),
            _transition_runner("dismiss", lambda a, p: {"reason": p["reason"]}),
            transition="dismiss",
        ),
        BulkSpec(
            "message",
            gettext_lazy("Écrire aux porteurs"),
            ("subject", "message"),
            _message,
        ),
        BulkSpec("export", gettext_lazy("Exporter la sélection"), (), _export),
    )
}
ACTION_CHOICES = [(name, spec.label) for name, spec in ACTIONS.items()]


def bulk_params_clean(*, actor: User, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the action's inputs once for the whole selection; return them as JSON-ready values.
    Raises DomainError (with the field) on bad input."""
    if action not in ACTIONS:
        raise DomainError(_("Action inconnue : « %(name)s ».") % {"name": action}, field="action")
    fields = ACTIONS[action].fields
    clean: dict[str, Any] = {}
    if "instructor" in fields:
        instructor_id = _int(params.get("instructor"))
        instructor = (
            User.objects.filter(pk=instructor_id, is_active=True).first()
            if instructor_id is not None
            else None
        )
        if instructor is None or not has_role(instructor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
            raise DomainError(_("Choisissez un·e instructeur·rice."), field="instructor")
        clean["instructor"] = instructor.pk
    if "message" in fields:
        message = str(params.get("message") or "").strip()
        if not message:
            raise DomainError(_("Écrivez le message à envoyer."), field="message")
        clean["message"] = message
    if "subject" in fields:
        clean["subject"] = str(params.get("subject") or "").strip()[:200]
    if "deadline" in fields:
        deadline = params.get("deadline")
        if isinstance(deadline, str):
            deadline = parse_date(deadline) if deadline else None
        if not isinstance(deadline, date) or deadline <= today():
            raise DomainError(_("La date limite doit être dans le futur."), field="deadline")
        clean["deadline"] = deadline.isoformat()
    if "session" in fields:
        session_id = _int(getattr(params.get("session"), "pk", params.get("session")))
        if session_id is None or not CommitteeSession.objects.filter(pk=session_id).exists():
            raise DomainError(_("Choisissez une séance de comité."), field="session")
        clean["session"] = session_id
    if "reason" in fields:
        reason = str(params.get("reason") or "").strip()
        if not reason:
            raise DomainError(_("Un motif est obligatoire pour cette action."), field="reason")
        clean["reason"] = reason
    return clean


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- creating and running


def bulk_selection(
    *, actor: User, ids: Iterable[int] | None = None, filters: Mapping[str, Any] | None = None
) -> list[int]:
    """The ids of the selected files the actor may see in the queue (same selector, same scope)."""
    qs = instructor_queue(actor, filters=dict(filters or {}))
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    elif filters and filters.get("state"):
        qs = qs.filter(state=filters["state"])
    return list(qs.order_by("id").values_list("pk", flat=True).distinct())


def bulk_action_check_permission(actor: User) -> None:
    """Instructors and programme managers act on several files; the API calls it before reading
    the body (issue 11)."""
    if not has_role(actor, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Seule l'instruction peut agir sur plusieurs dossiers à la fois."))


def bulk_action_start(
    *,
    actor: User,
    action: str,
    params: Mapping[str, Any],
    ids: Iterable[int] | None = None,
    filters: Mapping[str, Any] | None = None,
) -> BulkAction:
    """Record a bulk action and its items, then run it: inline for a small selection, as a
    background job with progress above the threshold. Ticked ids outside the actor's queue are
    recorded as skipped (« not found or out of your scope »), never touched."""
    bulk_action_check_permission(actor)
    clean = bulk_params_clean(actor=actor, action=action, params=params)
    requested = None if ids is None else sorted({int(i) for i in ids})
    if requested is not None and not requested:
        raise DomainError(_("Sélectionnez au moins un dossier."), field="ids")
    visible = bulk_selection(actor=actor, ids=requested, filters=None if requested else filters)
    if not visible and requested is None:
        raise DomainError(_("Aucun dossier ne correspond à ces filtres."), field="filters")
    with transaction.atomic():
        bulk = BulkAction.objects.create(
            actor=actor,
            action=action,
            params=clean,
            filters=_json_filters(filters) if requested is None else {},
            all_matching=requested is None,
        )
        seen = set(visible)
        out_of_scope = [i for i in (requested or []) if i not in seen]
        BulkActionItem.objects.bulk_create(
            [BulkActionItem(bulk=bulk, application_id=pk, requested_id=pk) for pk in visible]
            + [
                BulkActionItem(
                    bulk=bulk,
                    requested_id=pk,
                    status=Item.SKIPPED,
                    reason=str(_("Dossier introuvable ou hors de votre périmètre.")),
                    processed_at=now(),
                )
                for pk in out_of_scope
            ],
            batch_size=1000,
        )
        _launch(bulk, count=len(visible))
    return bulk


def bulk_action_retry_skipped(*, actor: User, bulk: BulkAction) -> BulkAction:
    """Put the skipped files (still in the actor's queue) back to pending and run them again."""
    if bulk.actor_id != actor.pk:
        raise PermissionDenied(_("Seule la personne qui a lancé cette action peut la relancer."))
    if bulk_is_running(bulk):
        raise DomainError(_("Cette action est encore en cours."))
    with transaction.atomic():
        skipped = bulk.items.filter(status=Item.SKIPPED)
        visible = set(
            bulk_selection(actor=actor, ids=list(skipped.values_list("requested_id", flat=True)))
        )
        count = skipped.filter(requested_id__in=visible).update(
            status=Item.PENDING, reason="", processed_at=None, application_id=F("requested_id")
        )
        BulkAction.objects.filter(pk=bulk.pk).update(finished_at=None)
        bulk.finished_at = None
        _launch(bulk, count=count)
    return bulk


def _launch(bulk: BulkAction, *, count: int) -> None:
    if count > job_threshold():
        from core.jobs import job_start

        job = job_start(
            owner=bulk.actor,
            kind=BULK_JOB,
            label=_("Action groupée : %(action)s (%(n)s dossiers)")
            % {"action": ACTIONS[bulk.action].label, "n": count},
            params={"bulk": bulk.pk},
        )
        BulkAction.objects.filter(pk=bulk.pk).update(job=job)
        bulk.job = job
    else:
        bulk_action_run(bulk)


def bulk_is_running(bulk: BulkAction) -> bool:
    return bulk.finished_at is None and bulk.items.filter(status=Item.PENDING).exists()


def bulk_action_run(
    bulk: BulkAction, progress: Callable[[int, int | None], None] | None = None
) -> dict[str, int]:
    """Run every pending item of the bulk action by batches (COMMIT_EVERY files, or
    SET_BASED_COMMIT_EVERY with a set-based service), each batch in one transaction. Items
    already done or skipped are left alone (a redelivered job resumes where the killed one
    stopped)."""
    actor = bulk.actor
    spec = ACTIONS[bulk.action]
    total = bulk.items.count()
    done = bulk.items.exclude(status=Item.PENDING).count()
    if progress:
        progress(done, total)
    pending = list(
        bulk.items.filter(status=Item.PENDING).order_by("id").values_list("pk", flat=True)
    )
    size = COMMIT_EVERY if spec.run_many is None else SET_BASED_COMMIT_EVERY
    for first in range(0, len(pending), size):
        batch = pending[first : first + size]
        # The batch's actions and its items' outcomes commit together: a worker killed mid-batch
        # rolls back both, and the redelivered job redoes exactly those files.
        with transaction.atomic():
            _run_batch(batch, actor=actor, spec=spec, params=bulk.params)
        if progress:
            progress(done + first + len(batch), total)
    BulkAction.objects.filter(pk=bulk.pk).update(finished_at=now())
    return bulk_counts(bulk)


def _run_batch(
    item_pks: list[int], *, actor: User, spec: BulkSpec, params: Mapping[str, Any]
) -> None:
    """Act on the pending items of one batch, in the caller's transaction, and record each one's
    outcome. An action with a set-based service (spec.run_many: the same rules, a few statements
    for the whole batch) runs it once; any other runs the single-file service file by file, each
    in its own savepoint."""
    items = list(
        BulkActionItem.objects.select_for_update()
        .filter(pk__in=item_pks, status=Item.PENDING)  # not done by a previous delivery
        .order_by("id")
    )
    if not items:
        return
    applications = Application.objects.in_bulk(
        [i.application_id for i in items if i.application_id is not None]
    )
    reasons = _refusals(actor, items, applications, spec)
    todo = [i for i in items if i.pk not in reasons]
    if spec.run_many is not None:
        files = [applications[i.application_id] for i in todo]  # type: ignore[index]
        try:
            with transaction.atomic():  # a savepoint: refused as a whole, nothing changed
                refused = spec.run_many(actor, files, params) if files else {}
        except DomainError as exc:
            refused = dict.fromkeys((a.pk for a in files), str(exc.message))
        for item in todo:
            if item.application_id in refused:
                reasons[item.pk] = refused[item.application_id]
    else:
        for item in todo:
            reason = _run_item(
                item, applications[item.application_id], actor=actor, spec=spec, params=params
            )  # type: ignore[index]
            if reason is not None:
                reasons[item.pk] = reason
    # One UPDATE per outcome (done, or each distinct reason): bulk_update's CASE per row costs
    # more than the action itself.
    outcomes: dict[str, list[int]] = {}
    for item in items:
        outcomes.setdefault(reasons.get(item.pk) or "", []).append(item.pk)
    stamp = now()
    for reason, pks in outcomes.items():
        BulkActionItem.objects.filter(pk__in=pks).update(
            status=Item.SKIPPED if reason else Item.DONE, reason=reason, processed_at=stamp
        )


def _run_item(
    item: BulkActionItem,
    application: Application,
    *,
    actor: User,
    spec: BulkSpec,
    params: Mapping[str, Any],
) -> str | None:
    """Run the single-file service on one file in a savepoint (a refused file is left as it
    was); the reason it was refused, or None."""
    try:
        with transaction.atomic():
            spec.run(actor, application, params)
    except DomainError as exc:
        return str(exc.message)
    return None


def _refusals(
    actor: User,
    items: list[BulkActionItem],
    applications: Mapping[int, Application],
    spec: BulkSpec,
) -> dict[int, str]:
    """Why the action may not run now on each item's file (item id → reason), for the files
    that can be told before running it: out of the actor's scope, or a state the transition
    does not leave from."""
    in_scope = instructor_of_many(actor, list(applications.values()))
    reasons: dict[int, str] = {}
    for item in items:
        application = applications.get(item.application_id)  # type: ignore[arg-type]
        if application is None or application.pk not in in_scope:
            reasons[item.pk] = _("Dossier introuvable ou hors de votre périmètre.")
        elif spec.transition and spec.transition not in allowed_transition_names(application):
            if application.state == S.RETURNED:
                reasons[item.pk] = _(
                    "Une demande de compléments est en attente de réponse du porteur."
                )
            else:
                reasons[item.pk] = _(
                    "Action impossible pour un dossier à l'état « %(state)s »."
                ) % {"state": application.get_state_display()}
    return reasons


# --------------------------------------------------------------------------- reads


def bulk_counts(bulk: BulkAction) -> dict[str, int]:
    counts = dict.fromkeys(Item.values, 0)
    for row in bulk.items.values("status").order_by().annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def bulk_export_csv(bulk: BulkAction, dialect: CsvDialect | None = None) -> bytes:
    """The export action's file: the files done, one line each, as « Excel (France) » (default)
    or plain CSV (core.tabular.writer)."""
    headers = [
        _("Référence"),
        _("Projet"),
        _("Organisation"),
        _("SIRET"),
        _("État"),
        _("Demandé (€)"),
    ]
    ids = bulk.items.filter(status=Item.DONE).values_list("application_id", flat=True)
    apps = Application.objects.filter(pk__in=ids).select_related("organisation").order_by("id")
    rows = (
        [
            app.reference,
            app.title,
            app.organisation.name,
            app.organisation.siret,
            app.get_state_display(),
            app.requested_amount,
        ]
        for app in apps
    )
    return csv_bytes(headers, rows, dialect or csv_dialect(None))


def _json_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        k: getattr(v, "pk", v) if not isinstance(v, (str, int)) else v
        for k, v in (filters or {}).items()
        if v not in (None, "")
    }


def bulk_job_runner(job: BackgroundJob, progress: Callable[[int, int | None], None]) -> Any:
    from core.jobs import JobResult

    bulk = BulkAction.objects.select_related("actor").get(pk=job.params["bulk"])
    counts = bulk_action_run(bulk, progress)
    return JobResult(
        summary=counts,
        notify_title=Msg(
            gettext_noop("Action groupée terminée : %(done)s fait(s), %(skipped)s non traité(s)"),
            done=counts[Item.DONE],
            skipped=counts[Item.SKIPPED],
        ),
    )
