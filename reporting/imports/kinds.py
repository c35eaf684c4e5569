"""The kinds of import: who may run each, how its rows are read, planned and applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.models import Role, User
from core.permissions import has_role

from ..models import ImportKind
from . import grants, organisations, references


@dataclass(frozen=True)
class Kind:
    code: str
    roles: tuple[str, ...]  # administrators always may
    read: Callable[..., list[Any]]
    plan: Callable[..., None]
    apply: Callable[..., dict[str, Any]]
    columns: tuple[str, ...]  # the expected headers, shown on the upload page
    help: Promise | str
    strict_option: bool = False
    #: The rows the dry run read, kept for the apply (services.keep_rows): `freeze(rows, report)`
    #: → bytes, or None when reading them depended on the database; `thaw(bytes)` → rows.
    freeze: Callable[[list[Any], Any], bytes | None] | None = None
    thaw: Callable[[bytes], list[Any]] | None = None

    @property
    def label(self) -> str:
        return str(ImportKind(self.code).label)


KINDS: dict[str, Kind] = {
    ImportKind.ORGANISATIONS: Kind(
        code=ImportKind.ORGANISATIONS,
        roles=(Role.PROGRAMME_MANAGER, Role.FINANCE_OFFICER),
        read=organisations.read,
        plan=organisations.plan,
        apply=organisations.apply,
        columns=tuple(c.label for c in organisations.COLUMNS),
        help=_(
            "Une ligne par organisation, créée ou mise à jour selon son SIRET. Une cellule vide "
            "ne modifie rien. Les coordonnées bancaires ne sont pas importées."
        ),
    ),
    ImportKind.QPV: Kind(
        code=ImportKind.QPV,
        roles=(Role.PROGRAMME_MANAGER,),
        read=references.read_qpv,
        plan=references.plan_qpv,
        apply=references.apply_qpv,
        columns=tuple(c.label for c in references.QPV_COLUMNS),
        help=_(
            "Liste des quartiers prioritaires : codes 2024 (QN00101M) ou 2015 (QP057019). Un "
            "quartier existant est mis à jour, aucun n'est supprimé."
        ),
    ),
    ImportKind.COMMUNES: Kind(
        code=ImportKind.COMMUNES,
        roles=(Role.PROGRAMME_MANAGER,),
        read=references.read_communes,
        plan=references.plan_communes,
        apply=references.apply_communes,
        columns=tuple(c.label for c in references.COMMUNE_COLUMNS if c.key != "typecom"),
        help=_(
            "Code officiel géographique de l'INSEE (fichier « communes » du COG, ou un tableau "
            "code, nom, département). Le département est déduit du code s'il manque."
        ),
    ),
    ImportKind.GRANTS: Kind(
        code=ImportKind.GRANTS,
        roles=(Role.PROGRAMME_MANAGER,),
        read=grants.read,
        plan=grants.plan,
        apply=grants.apply,
        freeze=grants.freeze,
        thaw=grants.thaw,
        columns=(),
        help=_(
            "Subventions d'autres financeurs ou d'un ancien outil, au format SCDL « Subventions » "
            "2.1.1 (données essentielles des conventions). Chaque subvention devient une "
            "convention importée, rattachée au programme « Historique — financeur » de son "
            "exercice ; une subvention déjà importée est ignorée."
        ),
        strict_option=True,
    ),
}


def may_import(user: User, kind: str) -> bool:
    spec = KINDS.get(kind)
    return spec is not None and has_role(user, *spec.roles)


def kinds_for(user: User) -> list[Kind]:
    return [k for k in KINDS.values() if has_role(user, *k.roles)]
