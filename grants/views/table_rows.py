"""The lines of the two longest tables, the instruction queue and `/dossiers/`, as HTML (issue 17).

Django's template engine costs a few microseconds per `{{ }}`: a page of 50 lines of 10 to 15 cells
spent about 15 ms in its loop alone, the largest part of the page's rendering. Here each line is
one `str.format` of its escaped cells, computed beforehand as strings (`queue_rows`,
`my_applications_rows`): every cell is escaped as the template would escape it, and the markup is
the one the templates (`grants/_queue_table.html`, `grants/_my_applications_table.html`) held.

Escaping: Django's `escape` is `html.escape` behind a lazy-string wrapper that costs more than the
escaping itself (~800 cells a page); `_escaped` calls `html.escape` directly and, as Django's
`conditional_escape`, leaves a string already marked safe as it is."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from django.utils.safestring import SafeString, mark_safe

QUEUE_ROW = """
    <tr>
      <td><input type="checkbox" name="ids" value="{pk}" id="select-{pk}" class="bulk-select">
        <label for="select-{pk}" class="visually-hidden">{select_label}</label></td>
      <th scope="row"><a href="{url}">{reference}</a></th>
      <td>{title}</td>
      <td>{organisation}<br><span class="muted">{siret}</span></td>
      <td>{call}</td>
      <td>{pillar}</td>
      <td><span class="state state-{state}">{state_label}</span></td>
      <td>{assignee}</td>
      <td>{submitted}</td>
      <td class="num">{amount} €</td>
    </tr>
  """

MINE_ROW = """
    <tr id="application-{pk}">
      <th scope="row"><a href="{url}">{reference}</a></th>
      <td>{title}</td>
      <td>{organisation}</td>
      <td>{call}</td>
      <td><span class="state state-{state}">{state_label}</span></td>
      <td class="num">{amount} €</td>
      <td>
        {action}
        {renew}
      </td>
    </tr>
  """
# A line's buttons: its action (edit, complete, or the partner's part) and « Renouveler ».
MINE_BUTTON = (
    '<a class="{css}" href="{url}">{label}<span class="visually-hidden"> {reference}</span></a>'
)


def _escaped(cells: dict[str, Any]) -> dict[str, str]:
    """The cells as the template prints them (conditional_escape, at the price of html.escape)."""
    return {
        name: value if isinstance(value, SafeString) else html.escape(str(value))
        for name, value in cells.items()
    }


def queue_rows_html(rows: Iterable[dict[str, str]]) -> SafeString:
    """The queue's lines (grants.views.instruction.queue_rows)."""
    return mark_safe("".join(QUEUE_ROW.format(**_escaped(row)) for row in rows))  # noqa: S308


def _button(css: str, name: str, cells: dict[str, str]) -> str:
    """A line's `name` button of `/dossiers/` (its escaped `<name>_url` and `<name>_label`), or
    nothing when the line has none."""
    if not cells[f"{name}_url"]:
        return ""
    return MINE_BUTTON.format(
        css=css,
        url=cells[f"{name}_url"],
        label=cells[f"{name}_label"],
        reference=cells["reference"],
    )


def my_applications_rows_html(rows: Iterable[dict[str, str]]) -> SafeString:
    """The lines of `/dossiers/` (grants.views.applicant.my_applications_rows)."""
    lines = []
    for row in rows:
        cells = _escaped(row)
        action = _button("button small", "action", cells)
        renew = _button("button secondary small", "renew", cells)
        lines.append(MINE_ROW.format(**{**cells, "action": action, "renew": renew}))
    return mark_safe("".join(lines))  # noqa: S308
