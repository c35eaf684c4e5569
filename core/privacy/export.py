"""A person's personal data in one ZIP (RGPD art. 15 and 20): `donnees.json` plus the files they
uploaded, built by a background job (core.jobs) with progress. Each app contributes the sections
of its own data with `register_section` in its AppConfig.ready (core never imports them)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..audit import _jsonable, audit_log
from ..jobs import JobProgress, JobResult, job_start, register_job
from ..models import (
    AuditLog,
    BackgroundJob,
    ErasureRequest,
    Invitation,
    Membership,
    Notification,
    OrganisationDocument,
    RoleAssignment,
    User,
)
from ..notifications import Msg

JOB_KIND = "core.personal_data_export"


@dataclass
class Section:
    data: Any
    files: list[tuple[str, FieldFile]] = field(default_factory=list)


Collector = Callable[[User], Section]
_SECTIONS: dict[str, Collector] = {}


def register_section(name: str) -> Callable[[Collector], Collector]:
    def decorator(collector: Collector) -> Collector:
        _SECTIONS[name] = collector
        return collector

    return decorator


def _rows(queryset: Any, *fields: str) -> list[dict[str, Any]]:
    return [_jsonable(row) for row in queryset.values(*fields)]


@register_section("compte")
def _account(user: User) -> Section:
    return Section(
        _rows(
            User.objects.filter(pk=user.pk),
            "email",
            "first_name",
            "last_name",
            "date_joined",
            "last_login",
            "email_verified_at",
            "is_active",
        )[0]
    )


@register_section("organisations")
def _memberships(user: User) -> Section:
    return Section(
        _rows(
            Membership.objects.filter(user=user),
            "organisation__name",
            "organisation__siret",
            "is_admin",
            "created_at",
        )
    )


@register_section("roles")
def _roles(user: User) -> Section:
    return Section(_rows(RoleAssignment.objects.filter(user=user), "role", "created_at"))


@register_section("notifications")
def _notifications(user: User) -> Section:
    return Section(
        _rows(Notification.objects.filter(user=user), "title", "body", "created_at", "read_at")
    )


@register_section("invitations")
def _invitations(user: User) -> Section:
    return Section(
        _rows(
            Invitation.objects.filter(email__iexact=user.email),
            "role",
            "organisation__name",
            "created_at",
            "accepted_at",
        )
    )


@register_section("echecs_de_connexion")
def _login_failures(user: User) -> Section:
    from axes.models import AccessFailureLog

    failures = AccessFailureLog.objects.filter(username__iexact=user.email)
    return Section(_rows(failures, "ip_address", "attempt_time"))


@register_section("demandes_d_effacement")
def _erasures(user: User) -> Section:
    return Section(
        _rows(
            ErasureRequest.objects.filter(person=user),
            "reason",
            "state",
            "refusal_reason",
            "created_at",
            "processed_at",
        )
    )


@register_section("actions_au_journal")
def _actions(user: User) -> Section:
    """What the person did (the audit rows they wrote), as recorded."""
    return Section(
        _rows(
            AuditLog.objects.filter(actor=user).order_by("created_at", "id"),
            "created_at",
            "action",
            "object_repr",
            "source_state",
            "target_state",
            "reason",
        )
    )


@register_section("documents_deposes")
def _documents(user: User) -> Section:
    documents = OrganisationDocument.objects.filter(uploaded_by=user).select_related("organisation")
    data, files = [], []
    for doc in documents:
        name = f"fichiers/documents/{doc.pk}-{doc.original_name}"
        data.append(
            {
                "organisation": doc.organisation.name,
                "type": doc.get_kind_display(),
                "fichier": name,
                "deposé_le": doc.uploaded_at.isoformat(),
            }
        )
        files.append((name, doc.file))
    return Section(data, files)


def personal_data_zip(user: User, progress: JobProgress | None = None) -> bytes:
    """The ZIP: donnees.json (one key per section) and the uploaded files under fichiers/."""
    buffer = io.BytesIO()
    sections = sorted(_SECTIONS.items())
    if progress is not None:
        progress(0, len(sections))
    payload: dict[str, Any] = {}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, (name, collect) in enumerate(sections, start=1):
            section = collect(user)
            payload[name] = section.data
            for arcname, file in section.files:
                try:
                    with file.open("rb") as handle:
                        archive.writestr(arcname, handle.read())
                except FileNotFoundError:
                    payload.setdefault("fichiers_manquants", []).append(arcname)
            if progress is not None:
                progress(done, len(sections))
        archive.writestr(
            "donnees.json", json.dumps(payload, ensure_ascii=False, indent=2, default=str)
        )
    return buffer.getvalue()


def personal_data_export_start(*, actor: User, person: User) -> BackgroundJob:
    """Start the export of `person`'s data for `actor` (themselves, or an administrator acting on
    their behalf); the file is the job's, downloadable by `actor` only."""
    from ..errors import PermissionDenied

    if actor.pk != person.pk and not actor.is_superuser:
        raise PermissionDenied(_("Vous ne pouvez exporter que vos propres données."))
    with transaction.atomic():
        job = job_start(
            owner=actor,
            kind=JOB_KIND,
            label=_("Données personnelles de %(email)s") % {"email": person.email},
            params={"person": person.pk},
        )
        audit_log(
            actor=actor,
            obj=person,
            action="core.personal_data.export_requested",
            payload={"job": job.pk},
        )
    return job


@register_job(JOB_KIND)
def run_personal_data_export(job: BackgroundJob, progress: JobProgress) -> JobResult:
    person = User.objects.get(pk=job.params["person"])
    data = personal_data_zip(person, progress)
    return JobResult(
        summary={_("Rubriques"): len(_SECTIONS)},
        file=ContentFile(data),
        file_name="donnees-personnelles.zip",
        notify_title=Msg(gettext_noop("Vos données personnelles sont prêtes")),
    )
