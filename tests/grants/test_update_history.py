"""Saving an unchanged application form (e.g. a failed submit) writes no « dossier modifié » row."""

import pytest

from core.errors import DomainError
from core.models import AuditLog
from grants import services
from grants.models import Application


def _updated_rows(application):
    return AuditLog.objects.filter(
        object_id=str(application.pk), action="grants.application.updated"
    )


def test_unchanged_update_writes_no_history_row(draft, applicant):
    services.application_update(actor=applicant, application=draft, data={"title": "Nouveau titre"})
    rows = _updated_rows(draft)
    assert rows.count() == 1 and rows.get().payload["fields"] == ["title"]
    services.application_update(actor=applicant, application=draft, data={"title": "Nouveau titre"})
    assert _updated_rows(draft).count() == 1
    services.application_update(actor=applicant, application=draft, data={"title": "Autre"})
    assert _updated_rows(draft).count() == 2


BUDGET = [
    {"account": "60", "subsidy_source": "", "label": "Fournitures", "amount": "2000.00"},
    {"account": "74", "subsidy_source": "municipality", "label": "Ville", "amount": "2000"},
]
INDICATORS = [{"label": "Enfants accompagnés", "unit": "enfants", "target": "40"}]


def test_unchanged_lines_are_not_rewritten_and_changed_ones_are(draft, applicant):
    """A save then a submit posts the same lines twice: the second save leaves them in place (same
    rows), writes no history row, and a changed line is written and recorded as before."""
    data = {"budget": BUDGET, "indicators": INDICATORS}
    services.application_update(actor=applicant, application=draft, data=data)
    budget_ids = list(draft.budget_items.order_by("pk").values_list("pk", flat=True))
    indicator_ids = list(draft.indicators.values_list("pk", flat=True))
    assert len(budget_ids) == 2 and len(indicator_ids) == 1
    recorded = _updated_rows(draft).count()
    services.application_update(actor=applicant, application=draft, data=data)
    assert list(draft.budget_items.order_by("pk").values_list("pk", flat=True)) == budget_ids
    assert list(draft.indicators.values_list("pk", flat=True)) == indicator_ids
    assert _updated_rows(draft).count() == recorded
    changed = [{**BUDGET[0], "amount": "2500,00"}, BUDGET[1]]
    services.application_update(
        actor=applicant,
        application=draft,
        data={"budget": changed, "indicators": [{**INDICATORS[0], "target": "45"}]},
    )
    assert sorted(draft.budget_items.values_list("amount", flat=True)) == [2000, 2500]
    assert draft.indicators.get().target == 45
    assert set(budget_ids).isdisjoint(draft.budget_items.values_list("pk", flat=True))
    assert _updated_rows(draft).latest("pk").payload["fields"] == ["budget", "indicators"]


def test_an_update_still_validates_the_fields_it_changes(draft, applicant):
    with pytest.raises(DomainError) as caught:
        services.application_update(
            actor=applicant, application=draft, data={"requested_amount": -1}
        )
    assert "requested_amount" in caught.value.errors
    assert Application.objects.get(pk=draft.pk).requested_amount >= 0
