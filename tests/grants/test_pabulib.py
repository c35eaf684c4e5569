"""pabulib `.pb` files: reading, writing, exact round trip, French errors with line numbers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from grants.solutions.allocation import greedy_by_votes, method_of_equal_shares
from grants.solutions.pabulib import Election, PbProject, read_pb, write_pb

FIXTURE = Path(__file__).parent / "data" / "quartier_nord_2026.pb"

SMALL = """META
key;value
description;Exemple
num_projects;3
num_votes;4
budget;100000
vote_type;approval
PROJECTS
project_id;name;cost
1;Projet 1;5000
2;Projet 2;10000
3;Projet 3;85000
VOTES
voter_id;vote
1;1,2
2;1
3;3
4;1,2,3
"""


def test_reads_a_small_file():
    election = read_pb(SMALL)
    assert election.budget == Decimal("100000")
    assert list(election.meta) == [
        "description",
        "num_projects",
        "num_votes",
        "budget",
        "vote_type",
    ]
    assert [(p.id, p.cost, dict(p.fields)) for p in election.projects] == [
        ("1", Decimal(5000), {"name": "Projet 1"}),
        ("2", Decimal(10000), {"name": "Projet 2"}),
        ("3", Decimal(85000), {"name": "Projet 3"}),
    ]
    assert dict(election.ballots) == {
        "1": frozenset({"1", "2"}),
        "2": frozenset({"1"}),
        "3": frozenset({"3"}),
        "4": frozenset({"1", "2", "3"}),
    }
    assert election.project_columns == ("name", "cost")
    assert write_pb(election) == SMALL


def test_reads_the_real_looking_fixture_and_writes_it_back_identically():
    text = FIXTURE.read_text(encoding="utf-8")
    election = read_pb(text)
    assert write_pb(election) == text
    assert election.meta["currency"] == "EUR"
    assert len(election.projects) == 8 and len(election.ballots) == 24
    # A name with a semicolon is quoted in the file and read whole.
    assert election.projects[5].fields["name"] == "Permanence d'accès aux droits; écrivain public"
    # The "votes" column of the file agrees with the ballots.
    for project in election.projects:
        supporters = sum(project.id in ballot for ballot in election.ballots.values())
        assert int(project.fields["votes"]) == supporters
    assert dict(election.voter_fields["3"]) == {
        "age": "26-40",
        "sex": "F",
        "voting_method": "internet",
    }


def test_the_fixture_through_both_rules():
    # 60 000 € for 24 residents (2 500 € each). Greedy: 3 (16 votes, 24 000), 2 (14, 12 500),
    # 1 (13, 18 000) = 54 500; 4 (8 000) no longer fits, nor any other: 5 500 € unspent.
    # Equal shares funds five projects for the whole 60 000 €.
    election = read_pb(FIXTURE.read_text(encoding="utf-8"))
    projects = election.allocation_projects()
    greedy = greedy_by_votes(projects, election.ballots, election.budget)
    assert greedy.selected == ("3", "2", "1") and greedy.remaining == Decimal("5500.00")
    mes = method_of_equal_shares(projects, election.ballots, election.budget)
    assert mes.selected == ("3", "2", "4", "8", "6") and mes.remaining == Decimal("0.00")


def test_crlf_bom_and_blank_lines_are_accepted():
    text = "\ufeff" + SMALL.replace("\n", "\r\n").replace("PROJECTS", "\r\nPROJECTS")
    assert read_pb(text) == read_pb(SMALL)


def test_vote_order_is_normalised_to_natural_order():
    election = read_pb(SMALL.replace("4;1,2,3", "4;3,1,2").replace("3;3\n", "3;3\n"))
    assert write_pb(election).endswith("4;1,2,3\n")
    ten = Election(
        meta={"budget": "10", "vote_type": "approval"},
        projects=(PbProject("2", Decimal(1)), PbProject("10", Decimal(1))),
        ballots={"a": frozenset({"10", "2"})},
    )
    assert write_pb(ten).endswith("a;2,10\n")


def test_empty_ballot_round_trips():
    election = read_pb(SMALL.replace("2;1\n", "2;\n"))
    assert election.ballots["2"] == frozenset()
    assert read_pb(write_pb(election)) == election


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Le fichier est vide."),
        (
            "PROJECTS\nproject_id;cost\n",
            "Ligne 1 : section PROJECTS trouvée, la section META était attendue.",
        ),
        ("budget;1\n", "Ligne 1 : le fichier doit commencer par la section META."),
        (
            SMALL.replace("VOTES\nvoter_id;vote\n1;1,2\n2;1\n3;3\n4;1,2,3\n", ""),
            "la section VOTES manque.",
        ),
        (
            SMALL.replace("1;Projet 1;5000", "1;Projet 1"),
            "Ligne 10 : 3 champs attendus, 2 trouvés.",
        ),
        (
            SMALL.replace("1;Projet 1;5000", "1;Projet 1;5 000"),
            "Ligne 10 : coût invalide « 5 000 » pour le projet « 1 »",
        ),
        (
            SMALL.replace("2;Projet 2;10000", "1;Projet 2;10000"),
            "Ligne 11 : le projet « 1 » est déjà défini.",
        ),
        (
            SMALL.replace("3;3\n", "3;9\n"),
            "Ligne 17 : le votant « 3 » vote pour le projet « 9 » qui n'existe pas.",
        ),
        (
            SMALL.replace("3;3\n", "3;3,3\n"),
            "Ligne 17 : le votant « 3 » vote deux fois pour le même projet.",
        ),
        (SMALL.replace("3;3\n", "1;3\n"), "Ligne 17 : le votant « 1 » a déjà voté."),
        (
            SMALL.replace("vote_type;approval", "vote_type;cumulative"),
            "Ligne 7 : seuls les votes par approbation",
        ),
        (
            SMALL.replace("num_votes;4", "num_votes;5"),
            "Ligne 5 : « num_votes » annonce 5, le fichier en contient 4.",
        ),
        (SMALL.replace("budget;100000\n", ""), "la clé « budget » manque dans META."),
        (SMALL.replace("project_id;name;cost", "id;name;cost"), "Ligne 9 : l'en-tête de PROJECTS"),
        (SMALL.replace("voter_id;vote", "voter_id;votes"), "Ligne 14 : l'en-tête de VOTES"),
        (SMALL + "VOTES\nvoter_id;vote\n", "la section VOTES apparaît deux fois."),
    ],
)
def test_malformed_files_are_refused_with_the_line(text, expected):
    with pytest.raises(DomainError) as error:
        read_pb(text)
    assert expected in "\n".join(error.value.errors.get("file", [str(error.value.message)]))
    assert error.value.code == "pabulib"


def test_every_error_of_the_file_is_listed():
    text = SMALL.replace("1;Projet 1;5000", "1;Projet 1;abc").replace("3;3\n", "3;9\n")
    with pytest.raises(DomainError) as error:
        read_pb(text)
    messages = error.value.errors["file"]
    assert any(m.startswith("Ligne 10 :") for m in messages)
    assert any(m.startswith("Ligne 17 :") for m in messages)


# --- Round trip, hypothesis ---------------------------------------------------------------------

text_value = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=20).map(
    str.strip
)
ident = st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True).filter(
    lambda s: s.upper() not in ("META", "PROJECTS", "VOTES")
)
cost = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2).filter(
    lambda d: d > 0
) | st.integers(1, 10**6).map(Decimal)


@st.composite
def elections(draw):
    meta = {"budget": str(draw(st.integers(0, 10**6))), "vote_type": "approval"}
    meta |= draw(
        st.dictionaries(
            ident.filter(lambda k: k not in meta and not k.startswith("num_")),
            text_value,
            max_size=4,
        )
    )
    ids = draw(st.lists(ident, min_size=1, max_size=6, unique=True))
    extra = draw(
        st.lists(ident.filter(lambda c: c not in ("cost", "project_id")), max_size=2, unique=True)
    )
    projects = tuple(
        PbProject(pid, draw(cost), {c: draw(text_value) for c in extra}) for pid in ids
    )
    voters = draw(st.lists(ident, max_size=8, unique=True))
    ballots = {v: draw(st.frozensets(st.sampled_from(ids))) for v in voters}
    vote_extra = draw(
        st.lists(ident.filter(lambda c: c not in ("vote", "voter_id")), max_size=2, unique=True)
    )
    voter_fields = {v: {c: draw(text_value) for c in vote_extra} for v in voters}
    return Election(
        meta=meta,
        projects=projects,
        ballots=ballots,
        voter_fields=voter_fields,
        project_columns=("cost", *extra),
        vote_columns=(*vote_extra, "vote"),
    )


@settings(max_examples=200, deadline=None)
@given(elections())
def test_round_trip_is_exact(election):
    text = write_pb(election)
    again = read_pb(text)
    assert again == election
    assert write_pb(again) == text
