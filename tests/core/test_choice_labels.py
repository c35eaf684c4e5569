"""core.choices.choice_label: the label get_FOO_display() gave, in the active language."""

from django.utils import translation

from cpo.models import Instalment
from grants.models import Application, ApplicationKind, ApplicationState


def test_labels_match_djangos_generic_display_in_both_languages():
    app = Application(state=ApplicationState.SUBMITTED, kind=ApplicationKind.PROJECT_CALL)
    instalment = Instalment(state="due", kind=Instalment.Kind.BALANCE)
    for language in ("fr", "en"):
        with translation.override(language):
            state_field = Application._meta.get_field("state")
            generic = dict(state_field.flatchoices)[app.state]
            assert app.get_state_display() == str(generic)
            assert app.get_kind_display() == str(ApplicationKind.PROJECT_CALL.label)
            assert instalment.get_kind_display() == str(Instalment.Kind.BALANCE.label)
    with translation.override("en"):
        assert Application(state=ApplicationState.SUBMITTED).get_state_display() != str(
            Application(state=ApplicationState.SUBMITTED).state
        )


def test_an_unknown_stored_value_shows_as_itself():
    assert Application(state="lost").get_state_display() == "lost"
    assert Instalment(kind="mystery").get_kind_display() == "mystery"
