"""Read and write participatory-budgeting elections in the pabulib `.pb` format (approval votes).

The format (pabulib.org, Faliszewski et al. 2023; the same one equalshares.net and pabutools
read): a `;`-separated text file in three sections, each a line with its name then a header line.

    META                    PROJECTS                  VOTES
    key;value               project_id;cost;name      voter_id;vote
    budget;100000           1;5000;Jardin partagé     1;1,2
    vote_type;approval      2;10000;Aide aux devoirs  2;2
    num_projects;2 …

Pluriel reads and writes approval elections only (`vote_type` approval or choose-1). Every other
column is kept as text, so a file read then written comes back the same; the only normalisation
is the order of the project ids inside a vote (a ballot is a set), written in natural order (numeric
ids by value). Fields follow CSV quoting (`"a;b"`); a field cannot span several lines.

Errors are `DomainError`s in French naming the line, collected for the whole file where possible
(`error.errors["file"]`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from django.utils.translation import gettext as _

from core.errors import DomainError

from .allocation import Project

SECTIONS = ("META", "PROJECTS", "VOTES")
APPROVAL_VOTE_TYPES = ("approval", "choose-1")
_AMOUNT = re.compile(r"^\d+(\.\d{1,2})?$")


@dataclass(frozen=True)
class PbProject:
    """A line of PROJECTS: the id, the cost, and the other columns as text (name, category…)."""

    id: str
    cost: Decimal
    fields: Mapping[str, str] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PbProject) and (self.id, self.cost, dict(self.fields)) == (
            other.id,
            other.cost,
            dict(other.fields),
        )

    def __hash__(self) -> int:
        return hash((self.id, self.cost))


@dataclass(frozen=True)
class Election:
    """An approval election: META as ordered text pairs, the projects, and the ballots.

    `ballots` maps a voter id to the set of project ids they approve, in file order;
    `voter_fields` keeps the other VOTES columns (age, sex, voting_method…) by voter;
    `project_columns` and `vote_columns` are the headers after the id column, in file order.
    """

    meta: Mapping[str, str]
    projects: tuple[PbProject, ...]
    ballots: Mapping[str, frozenset[str]]
    voter_fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    project_columns: tuple[str, ...] = ("cost",)
    vote_columns: tuple[str, ...] = ("vote",)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Election):
            return NotImplemented
        return (
            list(self.meta.items()) == list(other.meta.items())
            and self.projects == other.projects
            and list(self.ballots.items()) == list(other.ballots.items())
            and {k: dict(v) for k, v in self.voter_fields.items()}
            == {k: dict(v) for k, v in other.voter_fields.items()}
            and self.project_columns == other.project_columns
            and self.vote_columns == other.vote_columns
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def budget(self) -> Decimal:
        """The envelope (META `budget`), in euros."""
        return Decimal(self.meta["budget"])

    def allocation_projects(self) -> list[Project]:
        """The projects as `grants.allocation.Project`s, ready for an allocation rule."""
        return [Project(id=p.id, cost=p.cost) for p in self.projects]


def natural_key(project_id: str) -> tuple[int, int | str]:
    """Numeric ids by value (2 before 10), then the others in text order."""
    return (0, int(project_id)) if project_id.isdigit() else (1, project_id)


# --- Reading -----------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.messages.append(_("Ligne %(line)d : %(message)s") % {"line": line, "message": message})

    def raise_if_any(self) -> None:
        if self.messages:
            raise DomainError(
                self.messages[0], field="file", code="pabulib", errors={"file": list(self.messages)}
            )


def _split(line: str) -> list[str]:
    return next(csv.reader([line], delimiter=";"))


def read_pb(text: str) -> Election:
    """Parse a `.pb` file (approval votes). Raises `DomainError` listing every error by line."""
    errors = _Errors()
    rows = [
        (number, line)
        for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1)
        if line.strip()
    ]
    if not rows:
        raise DomainError(_("Le fichier est vide."), field="file", code="pabulib")

    sections: dict[str, tuple[int, list[str], list[tuple[int, list[str]]]]] = {}
    current: str | None = None
    expect_header = False
    for number, line in rows:
        cells = [c.strip() for c in _split(line)]
        name = cells[0].upper() if len(cells) == 1 else ""
        if name in SECTIONS:
            if name in sections:
                errors.add(number, _("la section %(s)s apparaît deux fois.") % {"s": name})
                errors.raise_if_any()
            expected = SECTIONS[len(sections)]
            if name != expected:
                errors.add(
                    number,
                    _("section %(s)s trouvée, la section %(e)s était attendue.")
                    % {"s": name, "e": expected},
                )
                errors.raise_if_any()
            current, expect_header = name, True
            sections[name] = (number, [], [])
            continue
        if current is None:
            errors.add(number, _("le fichier doit commencer par la section META."))
            errors.raise_if_any()
        assert current is not None
        if expect_header:
            sections[current] = (number, cells, [])
            expect_header = False
            continue
        sections[current][2].append((number, cells))
    last_line = rows[-1][0]
    for name in SECTIONS:
        if name not in sections:
            errors.add(last_line, _("la section %(s)s manque.") % {"s": name})
    for name, (number, header, _rows) in sections.items():
        if not header:
            errors.add(number, _("l'en-tête de la section %(s)s manque.") % {"s": name})
    errors.raise_if_any()

    meta, meta_lines = _read_meta(sections["META"], errors)
    projects, project_columns = _read_projects(sections["PROJECTS"], errors)
    known = {p.id for p in projects}
    ballots, voter_fields, vote_columns = _read_votes(sections["VOTES"], known, errors)
    # Counts are only compared when every line was read, not to add noise to other errors.
    counts = None if errors.messages else (len(projects), len(ballots))
    _check_meta(meta, meta_lines, counts, errors)
    errors.raise_if_any()
    return Election(
        meta=MappingProxyType(meta),
        projects=tuple(projects),
        ballots=MappingProxyType(ballots),
        voter_fields=MappingProxyType(voter_fields),
        project_columns=project_columns,
        vote_columns=vote_columns,
    )


def _check_width(number: int, cells: list[str], header: list[str], errors: _Errors) -> bool:
    if len(cells) != len(header):
        errors.add(
            number,
            _("%(expected)d champs attendus, %(found)d trouvés.")
            % {"expected": len(header), "found": len(cells)},
        )
        return False
    return True


def _read_meta(section, errors: _Errors) -> tuple[dict[str, str], dict[str, int]]:
    header_line, header, rows = section
    meta: dict[str, str] = {}
    lines: dict[str, int] = {}
    if header != ["key", "value"]:
        errors.add(header_line, _("l'en-tête de META doit être « key;value »."))
        return meta, lines
    for number, cells in rows:
        if not _check_width(number, cells, header, errors):
            continue
        key, value = cells
        if key in meta:
            errors.add(number, _("la clé « %(key)s » est déjà définie.") % {"key": key})
            continue
        meta[key], lines[key] = value, number
    return meta, lines


def _read_projects(section, errors: _Errors) -> tuple[list[PbProject], tuple[str, ...]]:
    header_line, header, rows = section
    if not header or header[0] != "project_id" or "cost" not in header:
        errors.add(
            header_line,
            _("l'en-tête de PROJECTS doit commencer par « project_id » et contenir « cost »."),
        )
        return [], ()
    projects: list[PbProject] = []
    seen: set[str] = set()
    for number, cells in rows:
        if not _check_width(number, cells, header, errors):
            continue
        values = dict(zip(header, cells, strict=True))
        pid, cost = values.pop("project_id"), values.pop("cost")
        if not pid:
            errors.add(number, _("l'identifiant du projet est vide."))
            continue
        if pid in seen:
            errors.add(number, _("le projet « %(id)s » est déjà défini.") % {"id": pid})
            continue
        seen.add(pid)
        if not _AMOUNT.match(cost) or Decimal(cost) <= 0:
            errors.add(
                number,
                _(
                    "coût invalide « %(cost)s » pour le projet « %(id)s » (un montant "
                    "positif, point décimal, deux décimales au plus)."
                )
                % {"cost": cost, "id": pid},
            )
            continue
        projects.append(PbProject(id=pid, cost=Decimal(cost), fields=MappingProxyType(values)))
    return projects, tuple(header[1:])


def _read_votes(section, known: set[str], errors: _Errors):
    header_line, header, rows = section
    ballots: dict[str, frozenset[str]] = {}
    voter_fields: dict[str, Mapping[str, str]] = {}
    if not header or header[0] != "voter_id" or "vote" not in header:
        errors.add(
            header_line,
            _("l'en-tête de VOTES doit commencer par « voter_id » et contenir « vote »."),
        )
        return ballots, voter_fields, ()
    for number, cells in rows:
        if not _check_width(number, cells, header, errors):
            continue
        values = dict(zip(header, cells, strict=True))
        voter, vote = values.pop("voter_id"), values.pop("vote")
        if not voter:
            errors.add(number, _("l'identifiant du votant est vide."))
            continue
        if voter in ballots:
            errors.add(number, _("le votant « %(id)s » a déjà voté.") % {"id": voter})
            continue
        chosen = [pid.strip() for pid in vote.split(",")] if vote else []
        problems = False
        for pid in chosen:
            if pid not in known:
                errors.add(
                    number,
                    _("le votant « %(voter)s » vote pour le projet « %(id)s » qui n'existe pas.")
                    % {"voter": voter, "id": pid},
                )
                problems = True
        if len(set(chosen)) != len(chosen):
            errors.add(
                number,
                _("le votant « %(voter)s » vote deux fois pour le même projet.") % {"voter": voter},
            )
            problems = True
        if not problems:
            ballots[voter] = frozenset(chosen)
            voter_fields[voter] = MappingProxyType(values)
    return ballots, voter_fields, tuple(header[1:])


def _check_meta(
    meta: dict[str, str], lines: dict[str, int], counts: tuple[int, int] | None, errors: _Errors
) -> None:
    meta_line = min(lines.values(), default=1)
    for key in ("budget", "vote_type"):
        if key not in meta:
            errors.add(meta_line, _("la clé « %(key)s » manque dans META.") % {"key": key})
    if "vote_type" in meta and meta["vote_type"] not in APPROVAL_VOTE_TYPES:
        errors.add(
            lines["vote_type"],
            _(
                "seuls les votes par approbation (vote_type « approval ») "
                "sont pris en charge, pas « %(type)s »."
            )
            % {"type": meta["vote_type"]},
        )
    if "budget" in meta and not _AMOUNT.match(meta["budget"]):
        errors.add(
            lines["budget"], _("enveloppe invalide « %(budget)s ».") % {"budget": meta["budget"]}
        )
    if counts is None:
        return
    for key, actual in zip(("num_projects", "num_votes"), counts, strict=True):
        if key not in meta:
            continue
        try:
            declared = int(Decimal(meta[key]))
        except (InvalidOperation, ValueError):
            declared = None
        if declared != actual:
            errors.add(
                lines[key],
                _("« %(key)s » annonce %(declared)s, le fichier en contient %(actual)d.")
                % {"key": key, "declared": meta[key], "actual": actual},
            )


# --- Writing -----------------------------------------------------------------------------------


def write_pb(election: Election) -> str:
    """The election as `.pb` text (`\\n` line ends, final newline); `read_pb` gives it back."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    out.write("META\n")
    writer.writerow(["key", "value"])
    for key, value in election.meta.items():
        writer.writerow([key, value])
    out.write("PROJECTS\n")
    writer.writerow(["project_id", *election.project_columns])
    for project in election.projects:
        values = {**project.fields, "cost": str(project.cost)}
        writer.writerow([project.id, *(values.get(c, "") for c in election.project_columns)])
    out.write("VOTES\n")
    writer.writerow(["voter_id", *election.vote_columns])
    for voter, ballot in election.ballots.items():
        values = {
            **election.voter_fields.get(voter, {}),
            "vote": ",".join(sorted(ballot, key=natural_key)),
        }
        writer.writerow([voter, *(values.get(c, "") for c in election.vote_columns)])
    return out.getvalue()
