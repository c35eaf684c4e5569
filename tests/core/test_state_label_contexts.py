"""« État » the funder and « État » the status column are distinct messages (pgettext contexts)."""

from django.urls import reverse
from django.utils import translation

from core.models import Funder
from grants.budget import SubsidySource
from grants.services import application_submit


def test_the_state_funder_is_not_translated_as_a_status():
    with translation.override("en"):
        assert str(Funder.Kind.STATE.label) == "State"
        assert str(SubsidySource.STATE.label) == "State"
    with translation.override("fr"):
        assert str(Funder.Kind.STATE.label) == "État"


def test_queue_status_column_is_status_in_english(client, instructor, applicant, draft):
    application_submit(actor=applicant, application=draft)
    client.force_login(instructor)
    try:
        html = client.get(reverse("grants:queue"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        french = client.get(reverse("grants:queue"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    finally:
        translation.deactivate()  # the locale middleware leaves the request's language active
    assert '<th scope="col">Status</th>' in html
    assert '<th scope="col">État</th>' in french
