"""Today's files become files with one part (issue 15): the part of the funder that decided them —
the co-funder paying a prototype from its own fund, else the programme's funder (its budget line's,
else its first), else the funder named on an account-74 line — with the file's amounts and
decision copied."""

from decimal import Decimal

from django.db import migrations

BATCH = 2000


def _part_state(application):
    state = application.state
    if state == "approved":
        if application.approved_amount is not None and (
            application.approved_amount < application.requested_amount
        ):
            return "cut"
        return "approved"
    if state == "rejected":
        return "refused"
    if state == "in_committee":
        return "proposed" if application.proposed_amount is not None else "under_review"
    if state == "under_review":
        return "under_review"
    return "asked"


def forwards(apps, schema_editor):
    Application = apps.get_model("grants", "Application")
    BudgetItem = apps.get_model("grants", "BudgetItem")
    FunderPart = apps.get_model("grants", "FunderPart")
    Programme = apps.get_model("calls", "Programme")

    programme_funder = {}
    for programme in Programme.objects.select_related("budget_line").order_by("pk"):
        funder_id = programme.budget_line.funder_id if programme.budget_line_id else None
        if funder_id is None:
            funder_id = programme.funders.order_by("pk").values_list("pk", flat=True).first()
        programme_funder[programme.pk] = funder_id
    line_funder = {}
    for application_id, funder_id in (
        BudgetItem.objects.filter(account="74", funder__isnull=False)
        .order_by("application_id", "pk")
        .values_list("application_id", "funder_id")
    ):
        line_funder.setdefault(application_id, funder_id)
    has_part = set(FunderPart.objects.values_list("application_id", flat=True))

    batch = []
    for application in Application.objects.order_by("pk").iterator(chunk_size=BATCH):
        if application.pk in has_part:
            continue
        own_fund = application.cofunder_id is not None
        funder_id = (
            application.cofunder_id
            or programme_funder.get(application.programme_id)
            or line_funder.get(application.pk)
        )
        if funder_id is None:
            continue
        state = _part_state(application)
        decided = application.approved_amount if state in ("approved", "cut") else None
        requested = application.requested_amount or Decimal("0")
        if decided is not None and decided > requested:
            requested = decided
        batch.append(
            FunderPart(
                application_id=application.pk,
                funder_id=funder_id,
                programme_id=None if own_fund else application.programme_id,
                state=state,
                requested_amount=requested,
                proposed_amount=application.proposed_amount,
                proposal_note=application.proposal_note,
                decided_amount=decided,
                conditions=application.decision_conditions if decided is not None else "",
                refusal_reason=application.decision_reason if state == "refused" else "",
                committee_session_id=application.committee_session_id,
                envelope_override_reason=application.envelope_override_reason,
                decided_at=application.decided_at
                if state in ("approved", "cut", "refused")
                else None,
                decided_by_id=application.decided_by_id
                if state in ("approved", "cut", "refused")
                else None,
            )
        )
        if len(batch) >= BATCH:
            FunderPart.objects.bulk_create(batch)
            batch = []
    if batch:
        FunderPart.objects.bulk_create(batch)


def backwards(apps, schema_editor):
    """The parts this migration made carry nothing the file does not hold: drop them all."""
    apps.get_model("grants", "FunderPart").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0014_cofunded_parts"),
        ("calls", "0007_committee_rules"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
