"""Finance demo data, built on top of `manage.py demo` through the finance services only.

What it adds (idempotent: a second call changes nothing; dates relative to core.clock.today()):
- a second finance officer, comptable@demo.pluriel.fr, so segregation of duties can be shown (who
  prepares a run cannot approve it);
- agreements for the approved demo files that have none yet, co-funded by the State, the
  metropolis, the CAF and the foundation (each funder with its legal commitment, EJ), signed and
  made due by the daily job — this year's single payments and last year's quarterly ones (late);
- payment runs in every state: closed with every payment confirmed paid, closed with one rejection,
  cancelled, exported and awaiting its confirmation, approved, sent back for approval because the
  association changed its bank details, and a draft prepared by the second officer;
- a recovery offset against a later instalment and one issued, still to collect;
- the confirmation file of the exported run, ready to import: written to
  `demo-output/confirmation-<run reference>.csv` and downloadable by finances@ from its jobs page.

`load_finance_demo()` is called at the end of `manage.py demo`; `reset_finance_demo()` at the start
of its `--reset` (payment runs protect the instalments and the approvers from deletion).
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db.models import Q
from django.urls import reverse

from core.clock import now, today
from core.jobs import job_run
from core.models import (
    AuditLog,
    BackgroundJob,
    Funder,
    Membership,
    ReferenceCounter,
    Role,
    RoleAssignment,
    User,
)
from core.notifications import notify
from cpo import services, services_changes
from cpo.models import Agreement, Instalment, InstalmentState, Recovery
from finance import confirmations
from finance import services as services_finance
from finance.models import PaymentConfirmation, PaymentRun, PaymentRunItem, PaymentRunState
from grants.models import Application, ApplicationState

I = InstalmentState  # noqa: E741
RS = PaymentRunState
D = Decimal

EMAIL_DOMAIN = "demo.pluriel.fr"
OFFICER = f"finances@{EMAIL_DOMAIN}"
SECOND_OFFICER = f"comptable@{EMAIL_DOMAIN}"
INSTRUCTOR = f"instructeur@{EMAIL_DOMAIN}"
MANAGER = f"responsable@{EMAIL_DOMAIN}"
PASSWORD = "demo1234"


def _demo_dir() -> Path:
    """Where the demo writes files to import (settings.DEMO_OUTPUT_DIR; tests use a temp dir)."""
    return Path(getattr(settings, "DEMO_OUTPUT_DIR", Path(settings.BASE_DIR) / "demo-output"))


FILE_JOB_KIND = "cpo.demo_confirmation_file"

STATE = "État — ANCT / Préfecture des Bouches-du-Rhône"
METROPOLIS = "Métropole Aix-Marseille-Provence"
CAF = "CAF des Bouches-du-Rhône"
FOUNDATION = "Fondation Quartiers Solidaires"


@dataclass(frozen=True)
class NewAgreement:
    """An agreement for an approved demo file that has none: one fiscal year, co-funded."""

    application: str
    years_ago: int  # 0: this fiscal year (paid at signature); 1: last year (quarterly, late)
    funders: tuple[tuple[str, str], ...]  # (funder name, share)


NEW_AGREEMENTS = [
    NewAgreement("AAP-2026-0034", 0, ((STATE, "0.5"), (METROPOLIS, "0.5"))),
    NewAgreement("AAS-2026-0005", 0, ((CAF, "1"),)),
    NewAgreement("AAS-2026-0006", 0, ((METROPOLIS, "0.6"), (FOUNDATION, "0.4"))),
    NewAgreement("AAS-2026-0007", 1, ((STATE, "1"),)),
    NewAgreement("HA-2026-0001", 1, ((METROPOLIS, "1"),)),
]


@dataclass(frozen=True)
class RunPlan:
    """One demo run: which payable instalments it takes (the first `n` of each file's agreement, in
    date order), who prepares it, and how far it goes."""

    label: str
    take: tuple[tuple[str, int], ...]  # (application reference, how many instalments)
    outcome: (
        str  # closed_paid | closed_rejected | cancelled | exported | approved | reopened | draft
    )
    by_second_officer: bool = False


# In order: the rejection of the second run makes its instalment due again for the sixth; the
# cancelled third run frees its instalment for the draft of the second officer.
RUNS = [
    RunPlan(
        "Avances et subventions annuelles — 1er lot",
        (("AAAP-2026-0001", 3), ("AAP-2026-0034", 2), ("AAS-2026-0005", 1)),
        "closed_paid",
    ),
    RunPlan(
        "Anti-appel et appel à solutions — 2e lot",
        (("AAAP-2026-0002", 2), ("AAS-2026-0006", 2)),
        "closed_rejected",
    ),
    RunPlan("Théâtre des Balcons — solde saisi par erreur", (("AAAP-2026-0001", 1),), "cancelled"),
    RunPlan("Hors appel Énergie solidaire — trimestres 1 et 2", (("HA-2026-0001", 2),), "exported"),
    RunPlan("Hors appel Énergie solidaire — trimestres 3 et 4", (("HA-2026-0001", 2),), "approved"),
    RunPlan(
        "Trait d'Union Centre-Nord — nouveau versement après rejet",
        (("AAAP-2026-0002", 2), ("AAS-2026-0007", 2)),
        "reopened",
    ),
    RunPlan(
        "Théâtre des Balcons — versement reporté",
        (("AAAP-2026-0001", 1),),
        "draft",
        by_second_officer=True,
    ),
]
REJECTION = "Rejet de la banque du bénéficiaire : compte clôturé"
NEW_IBAN_ORGANISATION = "Trait d'Union Centre-Nord"
OFFSET_REASON = "Atelier d'octobre annulé (salle indisponible) : crédits non consommés."
ISSUED_REASON = "Compte rendu financier : 850 € de dépenses de communication non justifiées."


class DemoNotReady(RuntimeError):
    """`manage.py demo` has not built the agreements this demo pays."""


# --------------------------------------------------------------------------- entry points


def load_finance_demo(
    *, write: Callable[[str], object] = print, directory: Path | None = None
) -> bool:
    """Build the finance demo on top of `manage.py demo`. Returns True when something was built
    now (False when everything was there already). Prints the confirmation file's path."""
    directory = directory or _demo_dir()
    people = _people()
    built = False
    with _jobs_in_process():
        built |= _agreements(people)
        built |= _recoveries(people)
        runs: dict[str, PaymentRun] = {}
        for plan in RUNS:
            run, created = _run(plan, people)
            built |= created
            if run is not None:
                runs[plan.outcome] = run
    path, job = _confirmation_file(runs.get("exported"), people, directory)
    write(
        "Finance demo: payment runs "
        + ", ".join(
            f"{run.reference} ({RS(PaymentRun.objects.get(pk=run.pk).state).label})"
            for run in runs.values()
        )
    )
    if path is not None:
        url = reverse("core:job_detail", args=[job.pk]) if job else ""
        write(f"  Confirmation file ready to import for {runs['exported'].reference}: {path}")
        if url:
            write(f"  (also downloadable by {OFFICER} from {url})")
    write(f"  {SECOND_OFFICER:<38} second agent financier (valide les lots de {OFFICER})")
    return built


def reset_finance_demo(programmes=None) -> int:  # noqa: ANN001 - a list of Programme
    """Delete what `load_finance_demo` built that `manage.py demo --reset` cannot remove by
    itself: payment runs (their items protect the instalments, their approvals the users),
    confirmation files and jobs of the demo users, with their audit rows. Runs prepared or
    approved by a demo user, or paying an agreement of `programmes`, go. Returns how many."""
    demo_users = User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}")
    runs = Q(created_by__in=demo_users) | Q(approvals__user__in=demo_users)
    if programmes:
        runs |= Q(items__instalment__agreement__programme__in=programmes)
    run_ids = list(PaymentRun.objects.filter(runs).values_list("pk", flat=True).distinct())
    confirmations_qs = PaymentConfirmation.objects.filter(uploaded_by__in=demo_users)
    for model, pks in [
        (PaymentRun, run_ids),
        (PaymentConfirmation, list(confirmations_qs.values_list("pk", flat=True))),
    ]:
        AuditLog.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in pks],
        ).delete()
    years = set(PaymentRun.objects.filter(pk__in=run_ids).values_list("fiscal_year", flat=True))
    for run in PaymentRun.objects.filter(pk__in=run_ids):
        run.export_csv.delete(save=False)
        run.export_xlsx.delete(save=False)
    PaymentRun.objects.filter(pk__in=run_ids).delete()  # items and approvals cascade
    for confirmation in confirmations_qs:
        confirmation.file.delete(save=False)
    confirmations_qs.delete()
    jobs = BackgroundJob.objects.filter(owner__in=demo_users)
    for job in jobs.exclude(result_file=""):
        job.result_file.delete(save=False)
    jobs.delete()
    for year in years:
        if not PaymentRun.objects.filter(reference__startswith=f"LOT-{year}-").exists():
            ReferenceCounter.objects.filter(prefix="LOT", year=year).delete()
    return len(run_ids)


# --------------------------------------------------------------------------- people


@dataclass
class People:
    officer: User
    second: User
    instructor: User
    manager: User


def _people() -> People:
    by_email = {
        u.email: u
        for u in User.objects.filter(email__in=[OFFICER, INSTRUCTOR, MANAGER, SECOND_OFFICER])
    }
    missing = {OFFICER, INSTRUCTOR, MANAGER} - set(by_email)
    if missing:
        raise DemoNotReady(
            f"Run `manage.py demo` first (missing users: {', '.join(sorted(missing))})."
        )
    second = by_email.get(SECOND_OFFICER)
    if second is None:
        second = User.objects.create(
            email=SECOND_OFFICER,
            first_name="Sarah",
            last_name="Lemoine",
            password=make_password(PASSWORD),
            is_active=True,
            email_verified_at=now(),
        )
    RoleAssignment.objects.get_or_create(user=second, role=Role.FINANCE_OFFICER)
    return People(
        officer=by_email[OFFICER],
        second=second,
        instructor=by_email[INSTRUCTOR],
        manager=by_email[MANAGER],
    )


# --------------------------------------------------------------------------- agreements


def _agreements(people: People) -> bool:
    """One-year agreements for the approved files without one, signed, their instalments due."""
    funders = {
        f.name: f for f in Funder.objects.filter(name__in=[STATE, METROPOLIS, CAF, FOUNDATION])
    }
    applications = {
        a.reference: a
        for a in Application.objects.filter(
            reference__in=[p.application for p in NEW_AGREEMENTS],
            state=ApplicationState.APPROVED,
            agreement__isnull=True,
        )
    }
    built = False
    for index, plan in enumerate(NEW_AGREEMENTS):
        application = applications.get(plan.application)
        if application is None or any(name not in funders for name, _share in plan.funders):
            continue
        year = today().year - plan.years_ago
        agreement = services.agreement_create_from_application(
            actor=people.instructor,
            application=application,
            profile="flat",
            duration_years=1,
            first_year=year,
            instalment_template="at_signature" if plan.years_ago == 0 else "quarterly",
            funders=[
                {
                    "funder": funders[name],
                    "share": D(share),
                    "ej_number": f"{2_100_000_000 + 1000 * (index + 1) + position}",
                }
                for position, (name, share) in enumerate(plan.funders, start=1)
            ],
        )
        signed_on = min(today(), datetime.date(year, 1, 15))
        services.agreement_sign(actor=people.manager, agreement=agreement, signed_on=signed_on)
        # The daily job as it ran at each payment date, then today (unpaid 60 days → late).
        days = sorted(
            {
                max(d, signed_on)
                for d in Instalment.objects.filter(agreement=agreement).values_list(
                    "earliest_date", flat=True
                )
            }
        )
        for day in [*days, today()]:
            services.instalments_refresh(day=min(day, today()), agreement_ids=[agreement.pk])
        built = True
    return built


def _agreement_of(reference: str) -> Agreement | None:
    return Agreement.objects.filter(application__reference=reference).first()


# --------------------------------------------------------------------------- recoveries


def _recoveries(people: People) -> bool:
    """A recovery offset against a later instalment, and one issued, still to collect."""
    built = False
    theatre = _agreement_of("AAAP-2026-0001")
    if theatre is not None and not Recovery.objects.filter(reason=OFFSET_REASON).exists():
        recovery = services_changes.recovery_issue(
            actor=people.instructor,
            agreement=theatre,
            fiscal_year=theatre.first_year,
            unspent=D("1200.00"),
            reason=OFFSET_REASON,
        )
        later = (
            Instalment.objects.filter(
                agreement=theatre,
                year__fiscal_year__gt=recovery.fiscal_year,
                state__in=[I.PLANNED, I.ON_HOLD],
                amount__gt=recovery.amount,
            )
            .order_by("-earliest_date", "-pk")
            .first()
        )
        if later is not None:
            services_changes.recovery_offset(
                actor=people.officer, recovery=recovery, instalment=later
            )
        built = True
    union = _agreement_of("AAAP-2026-0002")
    if union is not None and not Recovery.objects.filter(reason=ISSUED_REASON).exists():
        services_changes.recovery_issue(
            actor=people.instructor,
            agreement=union,
            fiscal_year=union.first_year,
            unspent=D("850.00"),
            reason=ISSUED_REASON,
        )
        built = True
    return built


# --------------------------------------------------------------------------- runs


def _payable(reference: str, count: int) -> list[int]:
    agreement = _agreement_of(reference)
    if agreement is None or count <= 0:
        return []
    return list(
        services_finance.payable_instalments()
        .filter(agreement=agreement)
        .order_by("earliest_date", "year__fiscal_year", "number", "funder_id", "pk")
        .values_list("pk", flat=True)[:count]
    )


def _run(plan: RunPlan, people: People) -> tuple[PaymentRun | None, bool]:
    """The run of `plan`, built now through the services if it does not exist yet."""
    existing = PaymentRun.objects.filter(label=plan.label, fiscal_year=today().year).first()
    if existing is not None:
        return existing, False
    ids = [pk for reference, count in plan.take for pk in _payable(reference, count)]
    if not ids:
        return None, False
    creator, approver = people.officer, people.second
    if plan.by_second_officer:
        creator, approver = people.second, people.officer
    run = services_finance.payment_run_create(actor=creator, instalment_ids=ids, label=plan.label)
    if plan.outcome == "draft":
        return run, True
    if plan.outcome == "cancelled":
        run = services_finance.payment_run_cancel(
            actor=creator,
            run=run,
            reason="Échéance sélectionnée par erreur : elle sera payée avec le lot suivant.",
        )
        return run, True
    run = services_finance.payment_run_approve(actor=approver, run=run)
    if plan.outcome == "approved":
        return run, True
    if plan.outcome == "reopened":
        _change_bank_details(NEW_IBAN_ORGANISATION)
        return PaymentRun.objects.get(pk=run.pk), True
    # Some demo agreements carry no EJ number: the officer confirmed the export anyway (audited,
    # « Export confirmé malgré des paiements sans numéro d'engagement juridique »).
    run = services_finance.payment_run_export(actor=creator, run=run, allow_missing_ej=True)
    if plan.outcome == "exported":
        return run, True
    items = list(run.items.order_by("pk"))
    rejected = {items[1].pk} if plan.outcome == "closed_rejected" and len(items) > 1 else set()
    data = _confirmation_csv(run, items, rejected=rejected)
    check = confirmations.confirmation_check(
        actor=creator, data=data, name=f"retour-{run.reference}.csv"
    )
    job = confirmations.confirmation_apply(actor=creator, confirmation=check)
    if BackgroundJob.objects.get(pk=job.pk).state != BackgroundJob.State.DONE:
        # Inside an outer transaction (tests) the job waits for a commit that comes later.
        job_run(job.pk)
    return PaymentRun.objects.get(pk=run.pk), True


def _change_bank_details(organisation_name: str) -> None:
    """The association records a new account: the approved run paying it goes back for approval."""
    from core.models import Organisation
    from core.services import organisation_set_bank_details
    from demo.data import iban_for

    organisation = Organisation.objects.filter(name=organisation_name).first()
    admin = (
        Membership.objects.filter(organisation=organisation, is_admin=True)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    if organisation is None or admin is None:
        return
    organisation_set_bank_details(
        actor=admin.user, organisation=organisation, iban=iban_for(100), bic="CCOPFRPP"
    )


def _confirmation_csv(
    run: PaymentRun, items: list[PaymentRunItem], *, rejected: set[int] = frozenset()
) -> bytes:
    """The accounting system's return file: one line per payment, paid today unless rejected."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["reference_echeance", "reference_lot", "date_paiement", "statut", "motif"])
    for item in items:
        if item.pk in rejected:
            writer.writerow([item.instalment_reference, run.reference, "", "rejeté", REJECTION])
        else:
            writer.writerow(
                [item.instalment_reference, run.reference, today().strftime("%d/%m/%Y"), "payé", ""]
            )
    return out.getvalue().encode("utf-8")


def _confirmation_file(
    run: PaymentRun | None, people: People, directory: Path
) -> tuple[Path | None, BackgroundJob | None]:
    """The exported run's confirmation file, on disk and as a download on finances@'s jobs page
    (a finished job with the file), so it can be imported through the finance pages."""
    if run is None:
        return None, None
    run = PaymentRun.objects.get(pk=run.pk)
    items = list(run.items.filter(status=PaymentRunItem.Status.PENDING).order_by("pk"))
    name = f"confirmation-{run.reference}.csv"
    path = directory / name
    if run.state == RS.EXPORTED and items:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_confirmation_csv(run, items))
    job = BackgroundJob.objects.filter(
        owner=people.officer, kind=FILE_JOB_KIND, params__run=run.reference
    ).first()
    if job is None and path.exists():
        label = f"Fichier de retour comptable de démonstration ({run.reference})"
        job = BackgroundJob(
            owner=people.officer,
            kind=FILE_JOB_KIND,
            label=label,
            params={"run": run.reference},
            state=BackgroundJob.State.DONE,
            progress_done=len(items),
            progress_total=len(items),
            result={"Lignes": len(items)},
            result_name=name,
            started_at=now(),
            finished_at=now(),
            expires_at=now() + datetime.timedelta(days=30),
        )
        job.result_file.save(f"demo-{name}", ContentFile(path.read_bytes()), save=False)
        job.save()
        notify(
            users=[people.officer],
            title=f"Fichier de retour prêt à importer pour le lot {run.reference}",
            body="Déposez-le dans « Retours de la comptabilité » : vérification, puis application.",
            url=reverse("core:job_detail", args=[job.pk]),
        )
    return (path if path.exists() else None), job


@contextmanager
def _jobs_in_process():
    """Confirmation files are applied in-process during the demo load, even with a broker
    configured: the demo needs the runs settled before it goes on."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous
