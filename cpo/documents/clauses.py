"""Legal clauses read from Django templates, so that a lawyer can change a clause without a developer.

The templates live under `cpo/templates/cpo/documents/` (a project may override one by putting a
file of the same name in a `TEMPLATES` directory). They are rendered as plain text (no HTML
escaping) and read block by block, a block being lines separated by an empty line:

- `## Title` — a heading (article);
- `- item` — a bulleted list, one item per `- ` (an item may continue on the next lines);
- `[left] text`, `[right] text` — a paragraph aligned left or right (default: justified);
- `**Label :** text` — a paragraph opening with a bold label;
- `@name` — a part computed from the data (a table, the parties, the signatures), one per line;
- any other text — a justified paragraph; its lines are joined with a space.

Values from the data are never read as markup and keep their line breaks (each stands for a token
while the blocks are read): the text of the PDF is exactly the template's, filled with the data.
Values come formatted (amounts, dates); `{% if value %}` tests whether a value is empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.template import Context, engines

from .rendering import _Builder

_TOKEN = re.compile("\ue000([0-9]+)\ue000")
_BOLD = re.compile(r"^\*\*(.+?)\*\*\s+(.*)$", re.S)
_STYLE = re.compile(r"^\[(left|right)\]\s+(.*)$", re.S)


class _Values:
    """Stands for each text value by a token while the blocks are read, so that a value is never
    read as a heading or a list and keeps its line breaks; `restore` puts the values back."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def protect(self, value: Any) -> Any:
        if isinstance(value, str):
            if not value:
                return value
            self.values.append(value)
            return f"\ue000{len(self.values) - 1}\ue000"
        if isinstance(value, list | tuple):
            return [self.protect(item) for item in value]
        if isinstance(value, dict):
            return {key: self.protect(item) for key, item in value.items()}
        return value

    def restore(self, text: str) -> str:
        return _TOKEN.sub(lambda match: self.values[int(match.group(1))], text)


def render_text(template_name: str, context: Mapping[str, Any]) -> str:
    """The template filled with `context`, as plain text (nothing escaped)."""
    values = _Values()
    return values.restore(_render_protected(template_name, context, values))


def _render_protected(template_name: str, context: Mapping[str, Any], values: _Values) -> str:
    engine = engines["django"].engine  # type: ignore[attr-defined]
    template = engine.get_template(template_name)
    protected = {key: values.protect(value) for key, value in context.items()}
    return str(template.render(Context(protected, autoescape=False)))


def _blocks(text: str) -> Iterator[list[str]]:
    block: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped:
            block.append(stripped)
        elif block:
            yield block
            block = []
    if block:
        yield block


def write_clauses(
    builder: _Builder,
    template_name: str,
    context: Mapping[str, Any],
    parts: Mapping[str, Callable[[], None]] | None = None,
) -> None:
    """Add the blocks of `template_name` to the document; `@name` calls `parts[name]()`."""
    parts = parts or {}
    values = _Values()
    _restore = values.restore
    for block in _blocks(_render_protected(template_name, context, values)):
        if block[0].startswith("@"):
            for line in block:
                name = line[1:].strip()
                if name not in parts:
                    raise ValueError(f"{template_name}: unknown part @{name}")
                parts[name]()
        elif block[0].startswith("## "):
            builder.h2(_restore(" ".join(block)[3:].strip()))
        elif block[0].startswith("- "):
            items: list[str] = []
            for line in block:
                if line == "-" or line.startswith("- "):
                    items.append(line[2:].strip())
                elif items:
                    items[-1] += " " + line
            builder.bullets([_restore(item) for item in items])
        else:
            text = " ".join(block)
            style = "body"
            match = _STYLE.match(text)
            if match:
                style, text = match.group(1), match.group(2)
            bold = _BOLD.match(text)
            if bold:
                builder.para(
                    _restore(bold.group(2)), style=style, bold_prefix=_restore(bold.group(1))
                )
            else:
                builder.para(_restore(text), style=style)
