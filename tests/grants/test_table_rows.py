"""The queue's and /dossiers/'s lines printed in Python escape every cell as the template did."""

from django.template import Context, Template
from django.utils.safestring import mark_safe
from hypothesis import given
from hypothesis import strategies as st

from grants.views.table_rows import _escaped, my_applications_rows_html, queue_rows_html

HOSTILE = "<script>alert('x')</script> & \"Jardins\" l'été"


def _as_template_prints(value):
    return Template("{{ v }}").render(Context({"v": value}))


@given(st.text())
def test_a_cell_is_escaped_as_the_template_escapes_it(text):
    assert _escaped({"cell": text})["cell"] == _as_template_prints(text)


def test_a_cell_marked_safe_is_printed_as_is():
    amount = mark_safe("1&nbsp;234,00")  # noqa: S308 (floatformat's output is marked safe)
    assert _escaped({"amount": amount})["amount"] == "1&nbsp;234,00"


def _queue_row(**cells):
    row = dict.fromkeys(
        ("pk", "url", "select_label", "reference", "title", "organisation", "siret", "call"),
        "x",
    )
    row.update(pillar="—", state="submitted", state_label="Déposé", assignee="—")
    row.update(submitted="01/02/2026", amount="8 000,00", **cells)
    return row


def test_the_queue_line_escapes_what_the_applicant_typed():
    html = queue_rows_html([_queue_row(title=HOSTILE, organisation=HOSTILE)])
    assert "<script>" not in html
    assert html.count(_as_template_prints(HOSTILE)) == 2


def test_the_lines_of_dossiers_escape_their_cells_and_buttons():
    row = {
        "pk": "7",
        "url": "/dossiers/7/",
        "reference": HOSTILE,
        "title": HOSTILE,
        "organisation": "Les Amis",
        "call": "Appel 2026",
        "state": "draft",
        "state_label": "Brouillon",
        "amount": "8 000,00",
        "action": "edit",
        "action_label": "Modifier",
        "action_url": "/dossiers/7/modifier/",
        "renew_url": "",
        "renew_label": "Renouveler",
    }
    html = my_applications_rows_html([row])
    assert "<script>" not in html
    # The reference, in its cell and in the button's hidden label; the title.
    assert html.count(_as_template_prints(HOSTILE)) == 3
    assert 'href="/dossiers/7/modifier/"' in html
    assert "Renouveler" not in html
