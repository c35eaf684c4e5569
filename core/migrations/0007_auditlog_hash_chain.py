"""Hash chain over the audit trail (core.audit_chain): content hashes on the rows, seals chained
by seq; the existing rows are sealed as one first link, in the order they were written; on
PostgreSQL the trigger that seals each transaction's rows at commit."""

import django.utils.timezone
from django.db import migrations, models


def seal_existing(apps, schema_editor):  # noqa: ANN001, ANN201
    from core.audit_chain import GENESIS, HASHED_FIELDS, batch_digest, content_digest, link_digest

    AuditLog = apps.get_model("core", "AuditLog")
    AuditSeal = apps.get_model("core", "AuditSeal")
    hashes, batch = [], []
    first = last = None
    for row in AuditLog.objects.order_by("id").values("id", *HASHED_FIELDS).iterator(
        chunk_size=5000
    ):
        content = content_digest(row)
        hashes.append(content)
        batch.append(AuditLog(id=row["id"], content_hash=content, txid=0))
        first = row["id"] if first is None else first
        last = row["id"]
        if len(batch) >= 5000:
            AuditLog.objects.bulk_update(batch, ["content_hash", "txid"])
            batch = []
    if batch:
        AuditLog.objects.bulk_update(batch, ["content_hash", "txid"])
    if hashes:
        digest = batch_digest(hashes)
        AuditSeal.objects.create(
            txid=0,
            seq=1,
            first_id=first,
            last_id=last,
            count=len(hashes),
            digest=digest,
            prev_hash=GENESIS,
            row_hash=link_digest(GENESIS, 1, digest),
            sealed_at=django.utils.timezone.now(),
        )


def create_seal_trigger(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite (development): rows are sealed in Python as they are written
    from core.audit_chain import SEAL_FUNCTION_SQL, SEAL_TRIGGER_SQL

    schema_editor.execute(SEAL_FUNCTION_SQL)
    schema_editor.execute(SEAL_TRIGGER_SQL)


def drop_seal_trigger(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor == "postgresql":
        from core.audit_chain import DROP_SQL

        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("core", "0006_personal_api_tokens")]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="content_hash",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="empreinte du contenu"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditlog",
            name="txid",
            field=models.BigIntegerField(
                db_index=True, editable=False, null=True, verbose_name="transaction"
            ),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="created_at",
            field=models.DateTimeField(
                db_index=True, default=django.utils.timezone.now, verbose_name="date"
            ),
        ),
        migrations.CreateModel(
            name="AuditSeal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("txid", models.BigIntegerField(verbose_name="transaction")),
                (
                    "seq",
                    models.BigIntegerField(
                        null=True, unique=True, verbose_name="n° dans la chaîne"
                    ),
                ),
                ("first_id", models.BigIntegerField(null=True)),
                ("last_id", models.BigIntegerField(null=True)),
                ("count", models.PositiveIntegerField(default=0)),
                ("digest", models.CharField(blank=True, max_length=64)),
                ("prev_hash", models.CharField(blank=True, max_length=64)),
                ("row_hash", models.CharField(blank=True, max_length=64)),
                ("sealed_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "sceau du journal",
                "verbose_name_plural": "sceaux du journal",
                "indexes": [models.Index(fields=["txid"], name="core_auditseal_txid_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("seq__isnull", True)),
                        fields=("txid",),
                        name="one_open_seal_per_transaction",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="AuditAnchor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.BigIntegerField(verbose_name="n° dans la chaîne")),
                ("row_hash", models.CharField(max_length=64, verbose_name="empreinte")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="date")),
            ],
            options={
                "verbose_name": "ancre du journal",
                "verbose_name_plural": "ancres du journal",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.RunPython(create_seal_trigger, drop_seal_trigger),
    ]
