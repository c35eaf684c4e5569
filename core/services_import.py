"""Bulk writes for file imports: organisations created or updated by SIRET, the QPV list upserted
by code. Set-based: existing rows are read in one query per chunk of 5 000 identifiers, new rows
are written with COPY (core.bulk), changed rows with one bulk UPDATE; never a query per row.

The rows come already checked (reporting.imports reads and validates the file and lists every
error by row and column); these services re-check what the database decides (uniqueness, who may
import) and write everything in one transaction, with one audit row per organisation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import connection, models, transaction
from django.utils.translation import gettext as _

from .audit import audit_log_many
from .bulk import RawJSON, copy_insert
from .clock import now
from .errors import DomainError, PermissionDenied
from .models import QPV, Organisation, Role, User
from .permissions import has_role

CHUNK = 5_000

#: Profile fields an import may set (never the bank details: each organisation types its own,
#: and every change is told to its members — core.services.organisation_set_bank_details).
ORGANISATION_IMPORT_FIELDS = [
    "name",
    "rna",
    "legal_form",
    "email",
    "phone",
    "address",
    "postcode",
    "city",
    "commune_insee",
    "legal_rep_name",
    "legal_rep_role",
]


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` primary keys for rows about to be COPied (COPY returns no ids). PostgreSQL: taken
    from the table's sequence, so concurrent inserts never collide; SQLite (dev, tests): after
    the current maximum, inside the caller's transaction."""
    if count <= 0:
        return []
    table = model._meta.db_table
    column = cast(str, model._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        quoted = connection.ops.quote_name(table)
        cursor.execute(
            f"SELECT COALESCE(MAX({connection.ops.quote_name(column)}), 0) FROM {quoted}"
        )
        first = cursor.fetchone()[0] + 1
    return list(range(first, first + count))


def copy_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    constants: dict[str, Any] | None = None,
) -> int:
    """COPY tuples of `columns` (attnames) into the model's table, each followed by the
    `constants` and, for every other column, the field's Python default (COPY knows no Django
    default; a nullable column gets NULL, another one the empty string). Without an `id`
    column the database numbers the rows (use reserve_ids when the ids are needed)."""
    constants = constants or {}
    given = set(columns) | set(constants)
    rest = {
        f.attname: (f.get_default() if f.has_default() else (None if f.null else ""))
        for f in model._meta.concrete_fields
        if f.attname not in given and not f.primary_key
    }
    # The same value on every row: a JSON one is encoded here once, not by COPY on each row.
    fields = {f.attname: f for f in model._meta.concrete_fields}
    tail = tuple(
        RawJSON(json.dumps(value))
        if isinstance(fields[name], models.JSONField) and not isinstance(value, RawJSON)
        else value
        for name, value in (*constants.items(), *rest.items())
    )
    return copy_insert(model, [*columns, *constants, *rest], (tuple(row) + tail for row in rows))


def rows_where_in(
    model: type[models.Model], field: str, wanted: Sequence[Any], columns: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The rows (tuples of `columns`, attnames) whose `field` is one of `wanted`. PostgreSQL: one
    query, the values sent as one array parameter (`= ANY(%s)`): a 5 000-placeholder IN costs
    more to build, send and parse than the lookup itself. Elsewhere: one IN query per chunk."""
    if not wanted:
        return []
    if connection.vendor != "postgresql":
        rows: list[tuple[Any, ...]] = []
        for part in chunks(wanted):
            rows.extend(
                model._default_manager.filter(**{f"{field}__in": part}).values_list(*columns)
            )
        return rows
    meta = model._meta
    quote = connection.ops.quote_name

    def db_column(name: str) -> str:
        return quote(str(cast("models.Field[Any, Any]", meta.get_field(name)).column))

    names = ", ".join(db_column(c) for c in columns)
    column = db_column(field)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {names} FROM {quote(meta.db_table)} WHERE {column} = ANY(%s)", [list(wanted)]
        )
        return list(cursor.fetchall())


# --------------------------------------------------------------------------- organisations


def organisation_ids_by_siret(sirets: Iterable[str]) -> dict[str, int]:
    """Existing organisations by SIRET (one query; one per chunk on SQLite)."""
    wanted = sorted({s for s in sirets if s})
    return dict(rows_where_in(Organisation, "siret", wanted, ["siret", "id"]))


def organisation_ids_by_rna(rnas: Iterable[str]) -> dict[str, int]:
    """Existing organisations by RNA number (one query; one per chunk on SQLite). Several
    establishments of one association share its RNA: the oldest organisation record wins."""
    wanted = sorted({r for r in rnas if r})
    found: dict[str, int] = {}
    for rna, pk in sorted(rows_where_in(Organisation, "rna", wanted, ["rna", "id"]), reverse=True):
        found[rna] = pk  # by RNA, then from the newest id to the oldest: the oldest wins
    return found


def organisations_with_siren(siren: str) -> list[tuple[str, str]]:
    """(SIRET, name) of the known establishments of a company (its 9-digit SIREN), at most 5."""
    rows = Organisation.objects.filter(siret__startswith=siren).order_by("siret")
    return list(rows.values_list("siret", "name")[:5])


@dataclass
class OrganisationUpsert:
    ids: dict[str, int] = field(default_factory=dict)  # SIRET → id, for every row
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def organisations_upsert(
    *, actor: User, rows: Sequence[dict[str, Any]], update: bool = True
) -> OrganisationUpsert:
    """Create the organisations whose SIRET is unknown and (with `update`) update the others.

    Each row: `siret` (14 checked digits) and any of ORGANISATION_IMPORT_FIELDS; an empty value
    means "not given": it never erases what the organisation typed. Finance officers, programme
    managers and administrators only. One audit row per organisation created or changed."""
    if not has_role(actor, Role.FINANCE_OFFICER, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(
            _("Réservé aux responsables de programme, aux finances et aux administrateurs.")
        )
    seen: set[str] = set()
    for row in rows:
        if row["siret"] in seen:
            raise DomainError(
                _("Le SIRET %(siret)s figure deux fois.") % {"siret": row["siret"]},
                field="siret",
            )
        seen.add(row["siret"])
    result = OrganisationUpsert()
    with transaction.atomic():
        existing = _existing_organisations([r["siret"] for r in rows])
        new_rows = [r for r in rows if r["siret"] not in existing]
        ids = reserve_ids(Organisation, len(new_rows))
        created = []
        for pk, row in zip(ids, new_rows, strict=True):
            values = [row.get(f) or "" for f in ORGANISATION_IMPORT_FIELDS]
            values[2] = values[2] or Organisation.LegalForm.ASSOCIATION  # legal_form
            created.append((pk, row["siret"], *values))
            result.ids[row["siret"]] = pk
        copy_rows(
            Organisation,
            ["id", "siret", *ORGANISATION_IMPORT_FIELDS],
            created,
            constants={"created_at": now()},
        )
        result.created = len(created)
        changed: list[Organisation] = []
        changes_of: dict[int, dict[str, list[str]]] = {}
        for row in rows:
            current = existing.get(row["siret"])
            if current is None:
                continue
            result.ids[row["siret"]] = current["id"]
            changes = {
                f: [current[f], row[f]]
                for f in ORGANISATION_IMPORT_FIELDS
                if update and row.get(f) and row[f] != current[f]
            }
            if not changes:
                result.unchanged += 1
                continue
            organisation = Organisation(id=current["id"], siret=row["siret"])
            for f, (_old, new) in changes.items():
                setattr(organisation, f, new)
            changed.append(organisation)
            changes_of[current["id"]] = changes
        fields = sorted({f for c in changes_of.values() for f in c})
        if changed:
            # One UPDATE per chunk; a field a row does not change keeps its value (re-set below).
            for organisation in changed:
                current = existing[organisation.siret]
                for f in fields:
                    if f not in changes_of[organisation.pk]:
                        setattr(organisation, f, current[f])
            Organisation.objects.bulk_update(changed, fields, batch_size=1000)
        result.updated = len(changed)
        audit_log_many(
            actor=actor,
            model=Organisation,
            action="core.organisation.created",
            entries=[
                {"object_id": row[0], "object_repr": row[2], "payload": {"siret": row[1]}}
                for row in created
            ],
            plain=True,
        )
        audit_log_many(
            actor=actor,
            model=Organisation,
            action="core.organisation.updated",
            entries=[
                {
                    "object_id": o.pk,
                    "object_repr": o.name,
                    "payload": {"changes": changes_of[o.pk], "source": "import"},
                }
                for o in changed
            ],
        )
    return result


def _existing_organisations(sirets: Sequence[str]) -> dict[str, dict[str, Any]]:
    names = ["id", "siret", *ORGANISATION_IMPORT_FIELDS]
    return {
        row[1]: dict(zip(names, row, strict=True))
        for row in rows_where_in(Organisation, "siret", sorted(set(sirets)), names)
    }


# --------------------------------------------------------------------------- QPV


@dataclass
class Upsert:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


QPV_FIELDS = ["name", "commune_insee", "commune_name"]


def qpvs_upsert(*, actor: User, rows: Sequence[dict[str, Any]]) -> Upsert:
    """Create or update priority neighbourhoods by code (2024 list QN + 5 digits + letter, 2015
    list QP + 6 digits). Programme managers and administrators only. A QPV is never deleted
    here: applications and staff territories point to it."""
    if not has_role(actor, Role.PROGRAMME_MANAGER):
        raise PermissionDenied(_("Réservé aux responsables de programme et aux administrateurs."))
    result = Upsert()
    with transaction.atomic():
        existing = {
            q["code"]: q
            for part in chunks(sorted({r["code"] for r in rows}))
            for q in QPV.objects.filter(code__in=part).values("id", "code", *QPV_FIELDS)
        }
        new = [r for r in rows if r["code"] not in existing]
        ids = reserve_ids(QPV, len(new))
        copy_rows(
            QPV,
            ["id", "code", *QPV_FIELDS],
            (
                (pk, r["code"], *(r.get(f) or "" for f in QPV_FIELDS))
                for pk, r in zip(ids, new, strict=True)
            ),
        )
        result.created = len(new)
        changed = []
        for row in rows:
            current = existing.get(row["code"])
            if current is None:
                continue
            values = {f: row.get(f) or current[f] for f in QPV_FIELDS}
            if all(values[f] == current[f] for f in QPV_FIELDS):
                result.unchanged += 1
                continue
            changed.append(QPV(id=current["id"], code=row["code"], **values))
        QPV.objects.bulk_update(changed, QPV_FIELDS, batch_size=1000)
        result.updated = len(changed)
    return result
