"""The audit trail is hash-chained: every writer (single row, bulk, COPY) is sealed into one
chain, `audit_verify` names the first altered, missing or truncated row."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from core.audit import COPY_ABOVE, audit_log, audit_log_many
from core.audit_chain import (
    GENESIS,
    audit_anchor_export,
    batch_digest,
    chain_seal_pending,
    chain_verify,
    content_digest,
    link_digest,
)
from core.models import AuditAnchor, AuditLog, AuditSeal, Organisation

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
    chain_seal_pending()  # PostgreSQL seals at commit; the tests run inside a transaction


def test_every_writer_is_sealed_into_one_chain(organisation, applicant):
    write_rows(organisation, applicant, many=COPY_ABOVE + 10)  # COPY on PostgreSQL
    write_rows(organisation, applicant, many=3)  # bulk_create
    seals = list(AuditSeal.objects.order_by("seq"))
    assert [s.seq for s in seals] == list(range(1, len(seals) + 1))
    assert seals[0].prev_hash == GENESIS
    assert all(seals[i].prev_hash == seals[i - 1].row_hash for i in range(1, len(seals)))
    assert sum(s.count for s in seals) == AuditLog.objects.count() == COPY_ABOVE + 10 + 3 + 4
    for seal in seals:
        rows = AuditLog.objects.filter(
            txid=seal.txid, id__gte=seal.first_id, id__lte=seal.last_id
        ).order_by("id")
        assert batch_digest([r.content_hash for r in rows]) == seal.digest
        assert link_digest(seal.prev_hash, seal.seq, seal.digest) == seal.row_hash
    result = chain_verify()
    assert result.ok, result.first_break
    assert result.rows == AuditLog.objects.count() and result.head_hash == seals[-1].row_hash
    call_command("audit_verify")


def test_a_row_edited_in_sql_is_named(organisation, applicant):
    write_rows(organisation, applicant, many=5)
    target = AuditLog.objects.order_by("id")[3]
    AuditLog.objects.filter(pk=target.pk).update(reason="falsifié")
    result = chain_verify()
    assert not result.ok
    assert result.first_break.row_id == target.pk
    assert "content altered" in result.first_break.reason
    with pytest.raises(CommandError, match=rf"\(row id {target.pk}\): content altered"):
        call_command("audit_verify")


def test_a_row_edited_with_raw_sql_is_named(organisation, applicant):
    from django.db import connection

    write_rows(organisation, applicant)
    last = AuditLog.objects.order_by("-id").first()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE core_auditlog SET payload = %s WHERE id = %s", ['{"montant": 2}', last.pk]
        )
    assert chain_verify().first_break.row_id == last.pk


def test_a_deleted_row_breaks_its_seal(organisation, applicant):
    write_rows(organisation, applicant, many=4)
    row = AuditLog.objects.filter(payload__n=2).get()
    AuditLog.objects.filter(pk=row.pk).delete()
    result = chain_verify()
    assert "deleted or added" in result.first_break.reason


def test_a_row_rehashed_after_editing_still_breaks_its_seal(organisation, applicant):
    write_rows(organisation, applicant, many=2)
    row = AuditLog.objects.filter(payload__n=1).values().get()
    row["reason"] = "réécrit"
    AuditLog.objects.filter(pk=row["id"]).update(reason="réécrit", content_hash=content_digest(row))
    assert "deleted or added" in chain_verify().first_break.reason


def test_a_row_outside_any_seal_is_reported(organisation, applicant):
    write_rows(organisation, applicant)
    row = AuditLog.objects.order_by("id").first()
    AuditLog.objects.filter(pk=row.pk).update(txid=123)
    result = chain_verify()
    assert not result.ok


def test_truncation_is_visible_through_the_anchors(organisation, applicant, anchor_dir):
    write_rows(organisation, applicant, many=3)
    anchor = audit_anchor_export()
    assert AuditAnchor.objects.get().seq == anchor["seq"] == AuditSeal.objects.count()
    lines = (anchor_dir / "audit-anchors.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["row_hash"] == anchor["row_hash"]
    write_rows(organisation, applicant)
    assert chain_verify().ok and chain_verify().anchors == 1
    # The tail is cut (rows and seals), the database's anchors too: the file still knows.
    tail = AuditSeal.objects.filter(seq__gte=anchor["seq"] - 1)
    for seal in tail:
        AuditLog.objects.filter(txid=seal.txid, id__gte=seal.first_id).delete()
    tail.delete()
    AuditAnchor.objects.all().delete()
    result = chain_verify()
    assert not result.ok and "truncated" in result.first_break.reason


def test_a_rewritten_chain_differs_from_the_anchor(organisation, applicant):
    write_rows(organisation, applicant)
    audit_anchor_export()
    # Rewrite the first row and every seal consistently: only the anchor shows it.
    first = AuditLog.objects.order_by("id").values().first()
    first["reason"] = "réécrit"
    AuditLog.objects.filter(pk=first["id"]).update(
        reason="réécrit", content_hash=content_digest(first)
    )
    prev = GENESIS
    for seal in AuditSeal.objects.order_by("seq"):
        rows = AuditLog.objects.filter(
            txid=seal.txid, id__gte=seal.first_id, id__lte=seal.last_id
        ).order_by("id")
        digest = batch_digest([r.content_hash for r in rows])
        row_hash = link_digest(prev, seal.seq, digest)
        AuditSeal.objects.filter(pk=seal.pk).update(
            digest=digest, prev_hash=prev, row_hash=row_hash
        )
        prev = row_hash
    assert "anchor" in chain_verify().first_break.reason


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


def test_rows_written_by_the_services_are_chained(organisation, applicant):
    f.ApplicationFactory(organisation=organisation)
    assert chain_verify().ok


def test_the_batch_hash_is_the_rows_canonical_hash():
    """hash_batch (set-based writes) builds the same bytes as content_digest, whatever the text
    (accents, quotes, control characters) and payload (nested, floats, keys out of order)."""
    import datetime

    from core.audit_chain import hash_batch

    stamp = datetime.datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=datetime.UTC)
    rows = [
        {
            "actor_id": 7,
            "content_type_id": 12,
            "object_id": str(i),
            "object_repr": name,
            "action": "cpo.instalment.paid",
            "source_state": "in_run",
            "target_state": "paid",
            "reason": reason,
            "payload": payload,
            "created_at": stamp,
        }
        for i, (name, reason, payload) in enumerate(
            [
                ("ECH-2026-000001", "", {}),
                ("Crèche « Les Lutins »", 'dit "non"\n\t\\', {"b": 1.0, "a": [1.5, {"z": None}]}),
                ("\u2028é\x00", "€", {"amount": "1250.50", "nested": {"k": [True, 2.0]}}),
            ]
        )
    ]
    hash_batch(rows)
    for row in rows:
        assert row["content_hash"] == content_digest(row)
        assert json.loads(row["payload_json"]) == row["payload"]
    actorless = [{**rows[0], "actor_id": None}, {**rows[1], "actor_id": None}]
    hash_batch(actorless)
    assert [r["content_hash"] for r in actorless] == [content_digest(r) for r in actorless]
    # A plain payload (text, integers, nested dicts and lists) is hashed without the walk, to the
    # same bytes.
    plain = [
        {**rows[1], "payload": {"z": "é", "a": {"2024": "1.50", "2023": "0"}, "n": [1, None]}},
        {**rows[2], "payload": {}},
    ]
    hash_batch(plain, plain=True)
    for row in plain:
        assert row["content_hash"] == content_digest(row)
        assert json.loads(row["payload_json"]) == row["payload"]


def test_a_copied_batch_stores_the_hashed_payload_and_verifies():
    organisation = f.OrganisationFactory()
    with transaction.atomic():
        audit_log_many(
            actor=None,
            model=Organisation,
            action="core.organisation.updated",
            entries=[
                {"object_id": organisation.pk, "object_repr": "é", "payload": {"n": i, "x": 1.0}}
                for i in range(COPY_ABOVE + 3)
            ],
        )
    stored = AuditLog.objects.filter(action="core.organisation.updated").order_by("id")
    assert stored.count() == COPY_ABOVE + 3 and stored.last().payload == {
        "n": COPY_ABOVE + 2,
        "x": 1,
    }
    assert chain_verify().ok
