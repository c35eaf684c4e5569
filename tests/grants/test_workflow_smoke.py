from decimal import Decimal

import pytest

from core.models import AuditLog
from grants import services
from grants.models import ApplicationState as S

pytestmark = pytest.mark.django_db


def test_classic_path_from_draft_to_approval(draft, applicant, instructor, committee_member):
    app = services.application_submit(actor=applicant, application=draft)
    assert app.state == S.SUBMITTED
    app = services.application_declare_eligible(actor=instructor, application=app)
    app = services.application_start_review(actor=instructor, application=app)
    app = services.application_send_to_committee(
        actor=instructor, application=app, proposed_amount=Decimal("8000.00")
    )
    app = services.application_approve(
        actor=committee_member, application=app, amount=Decimal("8000.00")
    )
    assert app.state == S.APPROVED
    assert app.approved_amount == Decimal("8000.00")
    actions = list(AuditLog.objects.filter(object_id=str(app.pk)).values_list("action", flat=True))
    assert "grants.application.approved" in actions
    assert "grants.application.submitted" in actions
