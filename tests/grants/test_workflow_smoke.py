from decimal import Decimal

import pytest

from core.clock import today
from core.models import AuditLog
from grants import services
from grants.models import ApplicationState as S

pytestmark = pytest.mark.django_db


def test_classic_path_from_draft_to_approval(
    draft, applicant, instructor, committee_member, manager
):
    app = services.application_submit(actor=applicant, application=draft)
    assert app.state == S.SUBMITTED
    app = services.application_declare_eligible(actor=instructor, application=app)
    app = services.application_start_review(actor=instructor, application=app)
    session = services.committee_session_create(
        actor=manager,
        programme=app.programme,
        title="Comité",
        date=today(),
        call=app.call,
        chair=committee_member,
    )
    app = services.application_send_to_committee(
        actor=instructor, application=app, proposed_amount=Decimal("8000.00"), session=session
    )
    session = services.committee_session_open(
        actor=committee_member, session=session, present=[committee_member]
    )
    [app] = services.committee_record_decisions(
        actor=committee_member,
        session=session,
        decisions=[{"application": app.pk, "decision": "approve", "amount": Decimal("8000.00")}],
    )
    services.committee_session_close(actor=committee_member, session=session, minutes="PV")
    assert app.state == S.APPROVED
    assert app.approved_amount == Decimal("8000.00")
    actions = list(AuditLog.objects.filter(object_id=str(app.pk)).values_list("action", flat=True))
    assert "grants.application.approved" in actions
    assert "grants.application.submitted" in actions
