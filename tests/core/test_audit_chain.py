"""The audit trail is hash-chained: every writer (single row, bulk, COPY) extends one chain,
`audit_verify` names the first altered, missing or truncated row."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from core.audit import COPY_ABOVE, audit_log, audit_log_many
from core.audit_chain import GENESIS, audit_anchor_export, chain_seal_pending, chain_verify
from core.models import AuditAnchor, AuditLog, Organisation

from .. import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = str(tmp_path / "anchors")
    return tmp_path / "anchors"


def write_rows(organisation: Organisation, actor, many: int = 0) -> None:  # noqa: ANN001
    audit_log(actor=actor, obj=organisation, action="core.organisation.updated", reason="un")
    if many:
        with transaction.atomic():
            audit_log_many(
                actor=actor,
                model=Organisation,
                action="core.organisation.updated",
                entries=[
                    {"object_id": organisation.pk, "object_repr": "x", "payload": {"n": i}}
                    for i in range(many)
                ],
            )
    audit_log(
        actor=None,
        obj=organisation,
        action="core.organisation.updated",
        payload={"montant": 1.0, "b": {"z": 1, "a": [1, 2]}, "texte": "é"},
    )


def test_every_writer_extends_one_chain(organisation, applicant):
    write_rows(organisation, applicant, many=COPY_ABOVE + 10)  # COPY on PostgreSQL
    write_rows(organisation, applicant, many=3)  # bulk_create
    chain_seal_pending()  # PostgreSQL links the rows at commit; the test runs in a transaction
    rows = list(AuditLog.objects.order_by("seq").values_list("seq", "prev_hash", "row_hash"))
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0][1] == GENESIS
    assert all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))
    result = chain_verify()
    assert result.ok and result.rows == len(rows) == COPY_ABOVE + 10 + 3 + 4
    assert result.head_hash == rows[-1][2]
    call_command("audit_verify")


def test_a_row_edited_in_sql_is_named(organisation, applicant):
    write_rows(organisation, applicant, many=5)
    chain_seal_pending()
    target = AuditLog.objects.order_by("seq")[3]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_auditlog SET reason = %s WHERE id = %s", ["falsifié", target.pk]
        )
    result = chain_verify()
    assert not result.ok
    assert result.first_break.seq == target.seq and result.first_break.row_id == target.pk
    assert "content altered" in result.first_break.reason
    with pytest.raises(CommandError, match=rf"seq {target.seq} \(row id {target.pk}\)"):
        call_command("audit_verify")


def test_a_payload_edited_in_sql_is_named(organisation, applicant):
    write_rows(organisation, applicant)
    chain_seal_pending()
    last = AuditLog.objects.order_by("-seq").first()
    AuditLog.objects.filter(pk=last.pk).update(payload={"montant": 2})
    assert chain_verify().first_break.seq == last.seq


def test_a_deleted_row_breaks_the_chain_at_the_next_one(organisation, applicant):
    write_rows(organisation, applicant, many=4)
    chain_seal_pending()
    rows = list(AuditLog.objects.order_by("seq"))
    AuditLog.objects.filter(pk=rows[2].pk).delete()
    result = chain_verify()
    assert result.first_break.seq == rows[3].seq and "missing" in result.first_break.reason


def test_a_rehashed_row_still_breaks_the_link(organisation, applicant):
    """Recomputing the altered row's own hash is not enough: the next row points to the old one."""
    from core.audit_chain import content_digest, link_digest

    write_rows(organisation, applicant, many=2)
    chain_seal_pending()
    rows = list(AuditLog.objects.order_by("seq").values())
    row = rows[1]
    row["reason"] = "réécrit"
    content = content_digest(row)
    AuditLog.objects.filter(pk=row["id"]).update(
        reason="réécrit",
        content_hash=content,
        row_hash=link_digest(row["prev_hash"], row["seq"], content),
    )
    assert chain_verify().first_break.seq == rows[2]["seq"]


def test_truncation_is_visible_through_the_anchors(organisation, applicant, anchor_dir):
    write_rows(organisation, applicant, many=3)
    anchor = audit_anchor_export()
    assert AuditAnchor.objects.get().seq == anchor["seq"] == AuditLog.objects.count()
    lines = (anchor_dir / "audit-anchors.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["row_hash"] == anchor["row_hash"]
    write_rows(organisation, applicant)
    assert chain_verify().ok and chain_verify().anchors == 1
    # The tail is cut, the database's anchors too: the exported file still knows the head.
    chain_seal_pending()
    AuditLog.objects.filter(seq__gte=anchor["seq"] - 1).delete()
    AuditAnchor.objects.all().delete()
    result = chain_verify()
    assert not result.ok and "truncated" in result.first_break.reason
    assert result.first_break.seq == anchor["seq"] - 1


def test_a_rewritten_chain_differs_from_the_anchor(organisation, applicant):
    from core.audit_chain import content_digest, link_digest

    write_rows(organisation, applicant)
    audit_anchor_export()
    chain_seal_pending()
    # Rewrite everything consistently from the first row: only the anchor shows it.
    prev = GENESIS
    for row in AuditLog.objects.order_by("seq").values():
        if row["seq"] == 1:
            row["reason"] = "réécrit"
        content = content_digest(row)
        digest = link_digest(prev, row["seq"], content)
        AuditLog.objects.filter(pk=row["id"]).update(
            reason=row["reason"], prev_hash=prev, row_hash=digest, content_hash=content
        )
        prev = digest
    result = chain_verify()
    assert "anchor" in result.first_break.reason


def test_audit_rows_are_append_only(organisation, applicant):
    row = audit_log(actor=applicant, obj=organisation, action="core.organisation.updated")
    row.reason = "modifié"
    with pytest.raises(ValueError):
        row.save()


def test_anchor_task_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["core-audit-anchor"]
    assert entry["task"] == "core.tasks.audit_anchor_export" and entry["schedule"] == 86400
    from core.tasks import audit_anchor_export as task

    assert task.delay().get()["seq"] == 0


def test_rows_are_chained_by_the_demo_services(organisation, applicant):
    f.ApplicationFactory(organisation=organisation)
    assert chain_verify().ok
