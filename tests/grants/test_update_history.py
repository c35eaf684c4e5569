"""Saving an unchanged application form (e.g. a failed submit) writes no « dossier modifié » row."""

from core.models import AuditLog
from grants import services


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
