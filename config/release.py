"""Which release of the code is running, as a short digest (issue 17).

Pages keep rendered HTML in the shared cache (fragments, lists and file pages keyed on data
versions, core.data_version). Those keys change with the data, not with the code: after a deploy
that changes a template, a view or a translation, a page could be served as the previous release
rendered it until its entry expired. Production prefixes every cache key with this digest
(CACHES KEY_PREFIX), so a new release never reads the entries of an older one; sessions are
written through to the database (cached_db) and survive it.

The digest covers the code and what renders pages: Python, templates, compiled translations,
static sources. `PLURIEL_RELEASE` (e.g. a git tag) may name the release instead."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

SUFFIXES = (".py", ".html", ".txt", ".mo", ".js", ".css")
SKIPPED = {"tests", "bench", "docs", "node_modules", "staticfiles", "demo-output", "__pycache__"}


def code_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(SUFFIXES):
                path = Path(folder, name)
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def release(root: Path) -> str:
    return os.environ.get("PLURIEL_RELEASE") or code_digest(root)
