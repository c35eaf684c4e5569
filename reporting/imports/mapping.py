"""Column mapping shared by every import: how a file's header is matched to an expected column
(the user's choice first, then the exact name, the name without case/accents/punctuation, the
schema's title, a known synonym, and in tolerant imports a similar name), what the report shows
of it (each column of the file, its first values, where it goes and why) and the columns that
could hold a required field the file lacks.

Similarity is difflib's ratio on the headers reduced to letters and digits (standard library:
no dependency for a 30-column comparison)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from core.tabular.reader import loose_header, normalise_header

#: Below this ratio two names are not « similar ».
SIMILAR = 0.82
SAMPLES = 3


@dataclass
class Target:
    """An expected column and every name it answers to."""

    key: str
    label: str
    title: str = ""
    synonyms: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)  # loose name → how (filled in)


def targets_index(targets: list[Target]) -> dict[str, tuple[Target, str]]:
    """loose name → (target, how), in the order of precedence: names, titles, synonyms."""
    index: dict[str, tuple[Target, str]] = {}
    for how, names_of in (
        ("name", lambda t: (t.label, t.key)),
        ("title", lambda t: (t.title,) if t.title else ()),
        ("synonym", lambda t: t.synonyms),
    ):
        for target in targets:
            for name in names_of(target):
                index.setdefault(loose_header(name), (target, how))
    return index


def how_label(how: str, score: float = 0.0) -> str:
    return {
        "exact": _("nom exact"),
        "name": _("nom, sans tenir compte de la casse ni des accents"),
        "title": _("titre du schéma"),
        "synonym": _("synonyme connu"),
        "similar": _("nom ressemblant (%(score)s %%)") % {"score": round(score * 100)},
        "user": _("choisie par vous"),
        "profile": _("profil enregistré"),
        "ignored": _("ignorée"),
        "user-ignored": _("ignorée par vous"),
        "duplicate": _("en double"),
    }.get(how, how)


def most_similar(header: str, targets: list[Target], taken: set[str]) -> tuple[Target, float]:
    """The free target whose name, title or synonym is closest to `header`, and the ratio."""
    key = loose_header(header)
    best: tuple[Target | None, float] = (None, 0.0)
    for target in targets:
        if target.key in taken:
            continue
        for name in (target.label, target.key, target.title, *target.synonyms):
            if not name:
                continue
            score = difflib.SequenceMatcher(None, key, loose_header(name)).ratio()
            if score > best[1]:
                best = (target, score)
    return best  # type: ignore[return-value]


def candidates(target: Target, headers: list[str], used: set[int]) -> list[str]:
    """Headers not read for another column, most similar to `target` first (three at most)."""
    scored = []
    for position, header in enumerate(headers):
        if position in used or not header:
            continue
        _t, score = most_similar(header, [target], set())
        scored.append((score, position, header))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [h for score, _p, h in scored[:3] if score >= 0.3]


def overrides_of(options: dict[str, Any]) -> dict[str, str]:
    """The user's choices: normalised header → column key ("" to ignore the column)."""
    return {normalise_header(h): k for h, k in (options.get("mapping") or {}).items()}


def describe(
    headers: list[str], chosen: dict[int, tuple[str, str, str]], how: dict[int, str]
) -> list[dict[str, Any]]:
    """The mapping as the report shows it: one entry per column of the file."""
    return [
        {
            "position": position,
            "header": header,
            "field": chosen.get(position, ("", "", ""))[0],
            "label": chosen.get(position, ("", "", ""))[1],
            "title": chosen.get(position, ("", "", ""))[2],
            "how": how.get(position, how_label("ignored")),
            "samples": [],
        }
        for position, header in enumerate(headers)
    ]


def add_samples(entries: list[dict[str, Any]], cells: list[str]) -> bool:
    """Record a row's values as samples; False once every column has its samples."""
    wanting = False
    for entry in entries:
        samples = entry["samples"]
        if len(samples) >= SAMPLES:
            continue
        position = entry["position"]
        value = cells[position].strip() if position < len(cells) else ""
        if value and value not in samples:
            samples.append(value[:60])
        wanting = wanting or len(samples) < SAMPLES
    return wanting
