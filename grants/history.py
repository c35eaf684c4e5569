"""The file's history page (docs/domain.md §4): one timeline, newest first, of the file's own
transitions, its funder parts' — each co-funder's instruction, decision, reopening, choice of
agreement (grants/services/cofunding.py) — and what the layers above register about it (the
electronic signature of its agreements, cpo/history.py), each row with who, when and what.

Sources from the layers above are registered (`register_history_source`, in their
AppConfig.ready()) so that grants never imports them (the import-linter layers)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils.translation import gettext as _

from core.audit import history_for
from core.models import AuditLog

from .models import Application, FunderPart, FunderPartState
from .selectors import INTERNAL_ACTIONS

HistorySource = Callable[[Application], Iterable[AuditLog]]

_SOURCES: list[HistorySource] = []

# A funder's proposed amount and private notes are its instruction's own business: never on the
# applicant's history (the decision and a refusal's reason are).
PART_INTERNAL_ACTIONS = {"grants.funder_part.proposed", "grants.funder_part.note_updated"}
PART_DECIDED = "grants.funder_part.decided"


def register_history_source(source: HistorySource) -> None:
    """Add `source(application)` — audit rows, each with `label` and optionally `detail`,
    `source_label` and `target_label` set — to the file's history page."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def own_and_part_rows(
    application: Application, funder_parts: list[FunderPart] | None = None
) -> list[AuditLog]:
    """The file's own audit rows, labelled as core.audit.history_for labels them, and those of its
    funder parts, each naming its funder (`detail`) and with its states' labels: one query.
    `funder_parts`: the parts with their funders, when the caller read them."""
    if funder_parts is None:
        funder_parts = list(application.funder_parts.select_related("funder"))
    parts = {str(p.pk): p for p in funder_parts}
    if not parts:
        return history_for(application)
    own_type = ContentType.objects.get_for_model(Application)
    part_type = ContentType.objects.get_for_model(FunderPart)
    rows = list(
        AuditLog.objects.filter(
            Q(content_type=own_type, object_id=str(application.pk))
            | Q(content_type=part_type, object_id__in=list(parts))
        ).select_related("actor")
    )
    own_labels = dict(Application._meta.get_field("state").choices or [])  # type: ignore[union-attr]
    part_labels = dict(FunderPart._meta.get_field("state").choices or [])  # type: ignore[union-attr]
    for row in rows:
        labels = own_labels
        if row.content_type_id == part_type.pk:
            labels = part_labels
            row.detail = _("part de %(funder)s") % {"funder": parts[row.object_id].funder}  # type: ignore[attr-defined]
        row.source_label = str(labels.get(row.source_state, row.source_state))  # type: ignore[attr-defined]
        row.target_label = str(labels.get(row.target_state, row.target_state))  # type: ignore[attr-defined]
    return rows


def application_history(
    application: Application, *, staff: bool, funder_parts: list[FunderPart] | None = None
) -> list[AuditLog]:
    """Everything the history page lists for this viewer, newest first. The applicant's side does
    not see the instruction's internal rows (nor the reason of a granted part, which is an
    envelope overrun's justification; a refusal's reason is theirs to read)."""
    rows = own_and_part_rows(application, funder_parts)
    for source in _SOURCES:
        rows += list(source(application))
    if not staff:
        hidden = INTERNAL_ACTIONS | PART_INTERNAL_ACTIONS
        rows = [row for row in rows if row.action not in hidden]
        for row in rows:
            if row.action == PART_DECIDED and row.target_state != FunderPartState.REFUSED:
                row.reason = ""
    rows.sort(key=lambda row: (row.created_at, row.pk), reverse=True)
    return rows
