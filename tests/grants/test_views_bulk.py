"""The queue's bulk actions: checkboxes, confirmation with the count, result page, retry, export."""

from __future__ import annotations

import datetime

from django.urls import reverse

from core.models import AuditLog, Role
from grants.models import Application, ApplicationState, BulkAction, BulkActionItem
from tests import factories as f

S = ApplicationState
Item = BulkActionItem.Status
IN_A_MONTH = datetime.date.today() + datetime.timedelta(days=30)


def _filed(n, **kwargs):
    return [
        f.ApplicationFactory(state=kwargs.pop("state", S.SUBMITTED), **kwargs) for _ in range(n)
    ]


def test_queue_has_labelled_checkboxes_and_the_action_picker(client, manager):
    app = _filed(1)[0]
    client.force_login(manager)
    html = client.get(reverse("grants:queue")).content.decode()
    assert f'id="select-{app.pk}"' in html
    assert (
        f'<label for="select-{app.pk}" class="visually-hidden">Sélectionner le dossier {app.reference}'
        in html
    )
    assert 'name="all_matching"' in html and 'name="action"' in html and 'name="deadline"' in html


def test_confirm_then_run_then_result_page_lists_every_file(client, manager):
    ok = _filed(2)
    refused = _filed(1, state=S.IN_COMMITTEE)[0]
    client.force_login(manager)
    data = {
        "action": "request_completion",
        "message": "Joindre les statuts",
        "deadline": IN_A_MONTH.isoformat(),
        "ids": [a.pk for a in [*ok, refused]],
        "query": "",
    }
    confirm = client.post(reverse("grants:bulk_new"), data)
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "sera appliqué à 3 dossiers" in body
    assert not BulkAction.objects.exists()  # nothing done before the confirmation

    done = client.post(reverse("grants:bulk_new"), {**data, "confirmed": "1"})
    bulk = BulkAction.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse(
        "grants:bulk_detail", args=[bulk.pk]
    )
    page = client.get(done["Location"]).content.decode()
    for app in ok:
        assert app.reference in page
    assert refused.reference in page and "Action impossible" in page
    assert "Fait : 2 · Non traités : 1" in page
    assert 'id="bulk-retry"' in page


def test_all_matching_uses_the_queue_filters(client, manager):
    call = f.CallFactory()
    inside = _filed(3, call=call)
    outside = _filed(2)
    client.force_login(manager)
    data = {"action": "start_review", "all_matching": "on", "query": f"call={call.pk}"}
    confirm = client.post(reverse("grants:bulk_new"), data)
    assert "sera appliqué à 3 dossiers" in confirm.content.decode()
    Application.objects.filter(pk__in=[a.pk for a in inside]).update(state=S.ELIGIBLE)
    client.post(reverse("grants:bulk_new"), {**data, "confirmed": "1"})
    bulk = BulkAction.objects.get()
    assert bulk.all_matching and bulk.filters == {"call": call.pk}
    assert set(bulk.items.values_list("requested_id", flat=True)) == {a.pk for a in inside}
    assert (
        Application.objects.filter(pk__in=[a.pk for a in outside], state=S.SUBMITTED).count() == 2
    )


def test_bad_input_goes_back_to_the_queue_with_a_message(client, manager):
    app = _filed(1)[0]
    client.force_login(manager)
    response = client.post(
        reverse("grants:bulk_new"),
        {"action": "dismiss", "reason": "", "ids": [app.pk], "query": "state=submitted"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("grants:queue") + "?state=submitted"
    assert "Un motif est obligatoire" in response.content.decode()
    assert not BulkAction.objects.exists()


def test_other_people_and_applicants_get_404_or_403(client, manager, instructor, applicant):
    app = _filed(1)[0]
    client.force_login(manager)
    client.post(
        reverse("grants:bulk_new"),
        {"action": "export", "ids": [app.pk], "confirmed": "1", "query": ""},
    )
    bulk = BulkAction.objects.get()
    assert client.get(reverse("grants:bulk_export", args=[bulk.pk])).status_code == 200
    client.force_login(instructor)
    assert client.get(reverse("grants:bulk_detail", args=[bulk.pk])).status_code == 404
    assert client.post(reverse("grants:bulk_retry", args=[bulk.pk])).status_code == 404
    client.force_login(applicant)
    assert client.get(reverse("grants:bulk_detail", args=[bulk.pk])).status_code == 404
    assert (
        client.post(reverse("grants:bulk_new"), {"action": "export", "ids": [app.pk]}).status_code
        == 403
    )


def test_retry_from_the_result_page(client, manager):
    late = _filed(1, state=S.RETURNED)[0]
    client.force_login(manager)
    client.post(
        reverse("grants:bulk_new"),
        {"action": "declare_eligible", "ids": [late.pk], "confirmed": "1", "query": ""},
    )
    bulk = BulkAction.objects.get()
    assert bulk.items.get().status == Item.SKIPPED
    Application.objects.filter(pk=late.pk).update(state=S.SUBMITTED)
    client.post(reverse("grants:bulk_retry", args=[bulk.pk]))
    assert bulk.items.get().status == Item.DONE
    assert (
        AuditLog.objects.filter(
            action="grants.application.declared_eligible", object_id=str(late.pk)
        ).count()
        == 1
    )


def test_scoped_instructor_all_matching_from_the_page(client, db):
    qpv = f.QPVFactory(code="QN33333C")
    mine = [f.ApplicationFactory(state=S.SUBMITTED) for _ in range(2)]
    for app in mine:
        app.qpvs.set([qpv])
    others = _filed(2)
    scoped = f.UserFactory()
    f.give_role(scoped, Role.INSTRUCTOR, territories=[qpv])
    client.force_login(scoped)
    client.post(
        reverse("grants:bulk_new"),
        {"action": "declare_eligible", "all_matching": "on", "confirmed": "1", "query": ""},
    )
    assert Application.objects.filter(pk__in=[a.pk for a in mine], state=S.ELIGIBLE).count() == 2
    assert Application.objects.filter(pk__in=[a.pk for a in others], state=S.SUBMITTED).count() == 2
