"""Django's {# #} comments are single-line: one spanning lines is printed into the page as text
(in the browser a tag name inside it becomes a real element). Multi-line notes use
{% comment %}."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SKIPPED = {".venv", "node_modules", ".git", "staticfiles"}


def project_templates() -> list[Path]:
    return [
        path
        for suffix in ("*.html", "*.txt", "*.xml")
        for path in ROOT.rglob(suffix)
        if not SKIPPED.intersection(path.relative_to(ROOT).parts)
        and "templates" in path.relative_to(ROOT).parts
    ]


def test_templates_are_found():
    names = {p.name for p in project_templates()}
    assert {"base.html", "_budget_rows.html"} <= names


def test_no_template_comment_spans_lines():
    unclosed = re.compile(r"\{#(?:(?!#\}).)*$", re.M)
    found = []
    for path in project_templates():
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in unclosed.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)[:60]}")
    assert not found, "multi-line {# #} comments (use {% comment %}):\n" + "\n".join(found)
