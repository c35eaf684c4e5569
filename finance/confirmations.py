"""Confirmation files returned by the accounting system: one line per payment with its reference,
the payment date, the status (paid or rejected) and the reason of a rejection.

`confirmation_check` is the dry run: it reads the whole file and lists every error by line and
column, writing nothing but the confirmation record. `confirmation_apply` hands a valid file to a
background job that applies it in chunks of 2 000 lines, each in its own transaction; only payments
still pending change, so re-applying the same file or resuming after a worker was killed pays
nothing twice and loses nothing.

Read by Pluriel's shared table reader (core.tabular, as every import): CSV in any encoding (decoded
line by line), separator and decimal sign, XLSX and ODS, with its limits. Columns (case and
accents ignored): `reference_echeance` (or `reference`), optionally `reference_lot`,
`date_paiement` (YYYY-MM-DD or DD/MM/YYYY), `statut` (payé / rejeté, paid / rejected) and `motif`
(required for a rejection).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Any, cast

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.audit import audit_log
from core.clock import now, today
from core.errors import DomainError
from core.jobs import JobResult, Progress, job_start, register_job
from core.models import BackgroundJob, User
from core.notifications import Msg
from core.tabular.reader import CellError, clean_text, normalise_header, open_table, parse_date
from core.tabular.report import Report
from finance.models import PaymentConfirmation, PaymentRunItem, PaymentRunState
from finance.services import confirmations_apply_rows
from finance.services.common import _finance

CHUNK = 2000
MAX_ROWS = 200_000
ItemStatus = PaymentRunItem.Status

HEADER_ALIASES = {
    "reference": "reference",
    "reference_echeance": "reference",
    "ref_echeance": "reference",
    "instalment_reference": "reference",
    "reference_lot": "run",
    "lot": "run",
    "run_reference": "run",
    "date_paiement": "paid_on",
    "date_de_paiement": "paid_on",
    "paid_on": "paid_on",
    "paid_date": "paid_on",
    "date": "paid_on",
    "statut": "status",
    "status": "status",
    "etat": "status",
    "motif": "reason",
    "motif_rejet": "reason",
    "reason": "reason",
}
STATUS_ALIASES = {
    "paye": ItemStatus.PAID,
    "payee": ItemStatus.PAID,
    "paid": ItemStatus.PAID,
    "ok": ItemStatus.PAID,
    "rejete": ItemStatus.REJECTED,
    "rejetee": ItemStatus.REJECTED,
    "rejet": ItemStatus.REJECTED,
    "rejected": ItemStatus.REJECTED,
    "ko": ItemStatus.REJECTED,
}
COLUMN_LABELS = {
    "reference": "reference_echeance",
    "run": "reference_lot",
    "paid_on": "date_paiement",
    "status": "statut",
    "reason": "motif",
}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", normalise_header(text)).strip("_")


@dataclass
class ConfirmationTable:
    """The file as check_rows reads it: the header, the rows with their line numbers, and what the
    report says about how the file was read (format, encoding, separator; hints and cleaning)."""

    header: list[str]
    lines: list[tuple[int, list[str]]]
    file: dict[str, Any]
    notes: Report


def read_table(data: bytes, name: str) -> ConfirmationTable:
    """The file through Pluriel's shared reader (core.tabular): CSV in any encoding (per line),
    separator and decimal sign, XLSX or ODS, with its limits and its refusals in French."""
    table = open_table(io.BytesIO(data), name=name)
    lines = [(number, [clean_text(c) for c in cells]) for number, cells in table.rows()]
    notes = Report()
    table.notes(notes, len(lines))
    return ConfirmationTable(
        header=[clean_text(h) for h in table.headers],
        lines=lines,
        file={**table.describe(), **notes.file},
        notes=notes,
    )


def _date(value: str) -> datetime.date | None:
    try:
        return parse_date(value)
    except CellError:
        return None


def check_rows(
    table: ConfirmationTable,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Validate every line. Returns (rows to apply, errors, counts). Set-based: the items are read
    in a few queries whatever the file's size."""
    if not any(table.header):
        raise DomainError(_("Le fichier est vide."), field="file")
    header = [HEADER_ALIASES.get(_key(h), "") for h in table.header]
    missing = [c for c in ("reference", "paid_on", "status") if c not in header]
    if missing:
        raise DomainError(
            _("Colonnes manquantes : %(cols)s (colonnes lues : %(found)s).")
            % {
                "cols": ", ".join(COLUMN_LABELS[c] for c in missing),
                "found": ", ".join(table.header),
            }
            + "".join(" " + hint for hint in table.notes.hints),
            field="file",
        )
    if len(table.lines) > MAX_ROWS:
        raise DomainError(
            _("Le fichier dépasse %(max)d lignes : découpez-le.") % {"max": MAX_ROWS}, field="file"
        )
    at = {name: header.index(name) for name in COLUMN_LABELS if name in header}
    lines = []
    for number, raw in table.lines:
        if not any(raw):
            continue
        cells = {name: (raw[i] if i < len(raw) else "") for name, i in at.items()}
        lines.append((number, cells))

    references = {c["reference"] for _n, c in lines if c["reference"]}
    items: dict[str, list[dict[str, Any]]] = {}
    for chunk_start in range(0, len(references), 5000):
        chunk = list(references)[chunk_start : chunk_start + 5000]
        for found in (
            PaymentRunItem.objects.filter(instalment_reference__in=chunk)
            .values(
                "pk",
                "instalment_reference",
                "status",
                "paid_on",
                "reject_reason",
                "run__reference",
                "run__state",
            )
            .order_by("pk")
        ):
            items.setdefault(found["instalment_reference"], []).append(dict(found))

    errors: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    counts = {"lines": len(lines), "paid": 0, "rejected": 0, "unchanged": 0}
    seen: dict[int, int] = {}

    def error(number: int, column: str, value: str, message: str) -> None:
        errors.append(
            {"line": number, "column": COLUMN_LABELS[column], "value": value, "message": message}
        )

    for number, c in lines:
        ok = True
        status = STATUS_ALIASES.get(_key(c["status"]))
        if status is None:
            error(
                number, "status", c["status"], _("Statut inconnu : attendu « payé » ou « rejeté ».")
            )
            ok = False
        paid_on = None
        if status == ItemStatus.PAID:
            paid_on = _date(c["paid_on"])
            if paid_on is None:
                error(
                    number,
                    "paid_on",
                    c["paid_on"],
                    _("Date illisible : attendu AAAA-MM-JJ ou JJ/MM/AAAA."),
                )
                ok = False
            elif paid_on > today():
                error(number, "paid_on", c["paid_on"], _("La date de paiement est dans le futur."))
                ok = False
        reason = c.get("reason", "")
        if status == ItemStatus.REJECTED and not reason:
            error(number, "reason", "", _("Le motif est obligatoire pour un rejet."))
            ok = False
        candidates = items.get(c["reference"], [])
        if c.get("run"):
            candidates = [i for i in candidates if i["run__reference"] == c["run"]]
        candidates = [
            i
            for i in candidates
            if i["run__state"] in (PaymentRunState.EXPORTED, PaymentRunState.CLOSED)
        ]
        if not c["reference"]:
            error(number, "reference", "", _("Référence manquante."))
            continue
        if not candidates:
            error(
                number,
                "reference",
                c["reference"],
                _(
                    "Référence inconnue : aucun paiement transmis à la comptabilité ne porte cette "
                    "référence%(run)s."
                )
                % {"run": _(" dans ce lot") if c.get("run") else ""},
            )
            continue
        pending = [i for i in candidates if i["status"] == ItemStatus.PENDING]
        item = pending[0] if pending else candidates[-1]
        if not ok:
            continue
        if item["pk"] in seen:
            error(
                number,
                "reference",
                c["reference"],
                _("Ce paiement figure déjà ligne %(line)d.") % {"line": seen[item["pk"]]},
            )
            continue
        seen[item["pk"]] = number
        if item["status"] == ItemStatus.PENDING:
            rows.append(
                {"item": item["pk"], "status": status, "paid_on": paid_on, "reason": reason}
            )
            counts[cast(str, status)] += 1
        elif item["status"] == status and (
            status == ItemStatus.REJECTED or item["paid_on"] == paid_on
        ):
            counts["unchanged"] += 1
        else:
            error(
                number,
                "status",
                c["status"],
                _("Ce paiement est déjà « %(state)s »%(date)s : le fichier le contredit.")
                % {
                    "state": ItemStatus(item["status"]).label,
                    "date": (" " + _("le %(d)s") % {"d": item["paid_on"].strftime("%d/%m/%Y")})
                    if item["paid_on"]
                    else "",
                },
            )
    return rows, errors, counts


def _report(
    table: ConfirmationTable, counts: dict[str, int], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the confirmation page shows: counts, errors by line, how the file was read."""
    return {
        "counts": counts,
        "errors": errors[:1000],
        "error_count": len(errors),
        "file": table.file,
        "hints": table.notes.hints,
        "warnings": [w["message"] for w in table.notes.warnings[:20]],
    }


def confirmation_check(*, actor: User, data: bytes, name: str) -> PaymentConfirmation:
    """The dry run: read and check the whole file, record what applying it would do."""
    _finance(actor)
    table = read_table(data, name)
    rows, errors, counts = check_rows(table)
    from django.core.files.base import ContentFile

    confirmation = PaymentConfirmation(
        original_name=name[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        state=PaymentConfirmation.State.INVALID if errors else PaymentConfirmation.State.CHECKED,
        row_count=counts["lines"],
        report=_report(table, counts, errors),
        uploaded_by=actor,
    )
    confirmation.file.save(name, ContentFile(data), save=False)
    confirmation.save()
    return confirmation


def confirmation_apply(*, actor: User, confirmation: PaymentConfirmation) -> BackgroundJob:
    """Apply a checked file in the background (progress on the job page). Re-checked first: the
    runs may have moved since the dry run."""
    _finance(actor)
    with transaction.atomic():
        confirmation = PaymentConfirmation.objects.select_for_update().get(pk=confirmation.pk)
        if confirmation.state == PaymentConfirmation.State.INVALID:
            raise DomainError(
                _("Le fichier contient des erreurs : corrigez-le et déposez-le à nouveau.")
            )
        if confirmation.state == PaymentConfirmation.State.APPLIED:
            raise DomainError(_("Ce fichier a déjà été appliqué."))
        confirmation.state = PaymentConfirmation.State.APPLYING
        confirmation.save(update_fields=["state"])
        return job_start(
            owner=actor,
            kind="cpo.confirmation_apply",
            label=_("Retour comptable %(name)s") % {"name": confirmation.original_name},
            params={"confirmation": confirmation.pk},
        )


@register_job("cpo.confirmation_apply")
def run_confirmation_apply(job: BackgroundJob, progress: Progress) -> JobResult:
    confirmation = PaymentConfirmation.objects.get(pk=job.params["confirmation"])
    with confirmation.file.open("rb") as handle:
        data = handle.read()
    table = read_table(data, confirmation.original_name)
    rows, errors, counts = check_rows(table)
    if errors:
        PaymentConfirmation.objects.filter(pk=confirmation.pk).update(
            state=PaymentConfirmation.State.INVALID,
            report=_report(table, counts, errors),
        )
        return JobResult(
            summary={_("Erreurs"): len(errors)},
            notify_title=Msg(
                gettext_noop("Retour comptable refusé : %(n)s erreur(s)"), n=len(errors)
            ),
        )
    # Totals over every attempt (core.jobs): a resumed job finds the rows an earlier attempt
    # applied "unchanged"; those were counted, with the progress, by that attempt.
    if "unchanged" not in progress.tally:  # first attempt: nothing applied yet
        progress.add({"paid": 0, "rejected": 0, "unchanged": counts["unchanged"]})
    already = progress.done
    progress(already, already + len(rows))
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with transaction.atomic():  # the chunk and its count commit together
            done = confirmations_apply_rows(
                actor=job.owner, rows=chunk, source=confirmation.original_name
            )
            progress.add(done, done=len(chunk))
    totals = {key: progress.tally.get(key, 0) for key in ("paid", "rejected", "unchanged")}
    with transaction.atomic():
        confirmation = PaymentConfirmation.objects.select_for_update().get(pk=confirmation.pk)
        confirmation.state = PaymentConfirmation.State.APPLIED
        confirmation.applied_at = now()
        confirmation.report = {**confirmation.report, "applied": totals}
        confirmation.save(update_fields=["state", "applied_at", "report"])
        audit_log(
            actor=job.owner,
            obj=confirmation,
            action="cpo.payment_confirmation.applied",
            payload=totals,
        )
    return JobResult(
        summary={
            _("Paiements confirmés"): totals["paid"],
            _("Paiements rejetés"): totals["rejected"],
            _("Lignes déjà prises en compte"): totals["unchanged"],
        },
        notify_title=Msg(
            gettext_noop("Retour comptable appliqué : %(paid)s payé(s), %(rejected)s rejeté(s)"),
            paid=totals["paid"],
            rejected=totals["rejected"],
        ),
    )
