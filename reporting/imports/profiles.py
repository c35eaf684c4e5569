"""Column mappings the user fixes on the dry-run report: the file checked again with them
(`import_remap`), and saved as a named profile (`import_profile_save`) chosen on the upload page
for the next file from the same source (`import_profiles`)."""

from __future__ import annotations

from typing import Any

from django.core.files.base import File
from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_log
from core.errors import DomainError
from core.models import User
from core.tabular.reader import normalise_header

from ..models import ImportBatch, ImportProfile, ImportState
from .services import _kind, import_check


def field_choices(kind: str) -> list[tuple[str, str]]:
    """(column key, label shown) of every column an import of `kind` reads."""
    from . import organisations, references, scdl

    if kind == "grants":
        titles = {f["name"]: f.get("title", "") for f in scdl.schema()["fields"]}
        return [
            (c.key, f"{c.key} — {titles[c.key]}" if titles.get(c.key) else c.key)
            for c in scdl.columns(strict=False)
        ]
    columns = {
        "organisations": organisations.COLUMNS,
        "qpv": references.QPV_COLUMNS,
        "communes": references.COMMUNE_COLUMNS,
    }[kind]
    return [(c.key, c.label) for c in columns]


def clean_mapping(kind: str, mapping: dict[str, str]) -> dict[str, str]:
    """The user's mapping with only known columns; a column chosen twice is refused."""
    known = {key for key, _label in field_choices(kind)}
    result: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header, key in mapping.items():
        key = key if key in known else ""
        if key and key in seen:
            raise DomainError(
                _("« %(field)s » est choisie pour deux colonnes : « %(a)s » et « %(b)s ».")
                % {"field": key, "a": seen[key], "b": header},
                field="mapping",
            )
        if key:
            seen[key] = header
        result[normalise_header(header)] = key
    return result


def import_profiles(actor: User, kind: str) -> list[ImportProfile]:
    _kind(actor, kind)
    return list(ImportProfile.objects.filter(kind=kind))


def import_profile_save(
    *, actor: User, kind: str, name: str, mapping: dict[str, str]
) -> ImportProfile:
    """Create or replace the profile `name` of this kind of import (audited)."""
    _kind(actor, kind)
    name = " ".join(name.split())[:100]
    if not name:
        raise DomainError(_("Donnez un nom au profil."), field="profile_name")
    with transaction.atomic():
        profile, created = ImportProfile.objects.update_or_create(
            kind=kind,
            name=name,
            defaults={"mapping": clean_mapping(kind, mapping), "created_by": actor},
        )
        audit_log(
            actor=actor,
            obj=profile,
            action="reporting.import.profile_saved",
            payload={"kind": kind, "created": created, "mapping": profile.mapping},
        )
    return profile


def import_remap(
    *,
    actor: User,
    batch: ImportBatch,
    mapping: dict[str, str],
    strict: bool | None = None,
    profile_name: str = "",
) -> ImportBatch:
    """Check the batch's file again with the user's column mapping (a new batch, the first one is
    left as it is), saving the mapping as a profile when named."""
    spec = _kind(actor, batch.kind)
    if batch.state == ImportState.APPLIED:
        raise DomainError(_("Ce fichier est déjà importé."), field="mapping")
    cleaned = clean_mapping(batch.kind, mapping)
    if profile_name.strip():
        import_profile_save(actor=actor, kind=batch.kind, name=profile_name, mapping=mapping)
    options: dict[str, Any] = {**batch.options, "mapping": cleaned}
    if strict is not None and spec.strict_option:
        options["strict"] = strict
    with batch.file.open("rb") as handle:
        upload = File(handle, name=batch.original_name)
        return import_check(actor=actor, kind=batch.kind, file=upload, options=options)
