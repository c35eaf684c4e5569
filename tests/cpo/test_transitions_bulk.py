"""Set-based instalment transitions (cpo.transitions): the source states are checked, the audit
rows are written with the state change, and no code changes an instalment's state any other way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import TransitionNotAllowed
from core.models import AuditLog
from cpo import services
from cpo.models import Instalment
from cpo.models import InstalmentState as I  # noqa: N817
from cpo.transitions import INSTALMENT_TRANSITIONS, instalments_transition

from .test_services import approved

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cpo(instructor):
    app = approved("90000.00")
    return services.agreement_create_from_application(
        actor=instructor, application=app, profile="flat", duration_years=3, first_year=2026
    )


def _entries(instalments, target):
    return [
        {"object_id": i.pk, "object_repr": str(i), "source": i.state, "target": target}
        for i in instalments
    ]


@pytest.mark.django_db
def test_moves_every_row_and_audits_each(cpo, instructor):
    planned = list(cpo.instalments.filter(state=I.PLANNED))
    assert planned
    before = AuditLog.objects.filter(action="cpo.instalment.on_hold").count()
    moved = instalments_transition(
        [i.pk for i in planned],
        transition="hold",
        actor=instructor,
        entries=_entries(planned, I.ON_HOLD),
        values={"hold_reason": "Contrôle"},
    )
    assert moved == len(planned)
    assert set(cpo.instalments.values_list("state", "hold_reason")) == {(I.ON_HOLD, "Contrôle")}
    rows = AuditLog.objects.filter(action="cpo.instalment.on_hold")
    assert rows.count() == before + len(planned)
    assert set(rows.values_list("source_state", "target_state")) == {(I.PLANNED, I.ON_HOLD)}


@pytest.mark.django_db
def test_a_row_outside_the_sources_refuses_the_whole_batch(cpo, instructor):
    instalments = list(cpo.instalments.order_by("pk"))
    assert len(instalments) >= 2
    # Only PLANNED/ON_HOLD may become due: a paid one poisons the batch.
    Instalment.objects.filter(pk=instalments[0].pk).update(paid_on="2026-02-01")
    instalments_transition(
        [instalments[0].pk],
        transition="cancel",
        actor=instructor,
        entries=_entries(instalments[:1], I.CANCELLED),
    )
    audits = AuditLog.objects.count()
    with pytest.raises(TransitionNotAllowed):
        instalments_transition(
            [i.pk for i in instalments],
            transition="make_due",
            actor=instructor,
            entries=_entries(instalments, I.DUE),
        )
    assert not cpo.instalments.filter(state=I.DUE).exists()
    assert AuditLog.objects.count() == audits


def test_transitions_match_the_state_machine():
    """Each set-based transition has the target of the model's FSM method of the same name, and
    accepts at least that method's sources."""
    for name, spec in INSTALMENT_TRANSITIONS.items():
        method = getattr(Instalment, name)
        meta = method._django_fsm
        fsm_sources = {source for source, t in meta.transitions.items() if t.target == spec.target}
        assert fsm_sources, name
        assert fsm_sources <= set(spec.sources), name


#: `.update(` whose arguments set `state=` — a bulk state write.
BARE_UPDATE = re.compile(r"\.update\(\s*(?:[^()]*?,\s*)?state\s*=\s*([\w.]+)", re.S)
#: Whatever names an instalment state: `I.DUE`, `InstalmentState.PAID`, `"paid"`…
INSTALMENT_STATE = re.compile(r"^(I|InstalmentState)\.")


def test_no_bare_state_update_on_instalments():
    """Outside tests, no `QuerySet.update(state=...)` is left on instalments: every bulk state
    change goes through cpo.transitions.instalments_transition (the only one allowed)."""
    offenders = []
    for path in ROOT.glob("**/*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "tests", "node_modules"} or "migrations" in rel.parts:
            continue
        if rel.as_posix() == "cpo/transitions.py":
            continue
        text = path.read_text(encoding="utf-8")
        for match in BARE_UPDATE.finditer(text):
            before = text[max(0, match.start() - 300) : match.start()]
            if INSTALMENT_STATE.match(match.group(1)) or "nstalment" in before.split(")\n")[-1]:
                offenders.append(f"{rel}:{text.count(chr(10), 0, match.start()) + 1}")
    assert offenders == []


def test_the_detector_sees_a_bare_update():
    sample = "Instalment.objects.filter(pk__in=ids).update(\n    state=I.PAID, paid_on=day\n)"
    assert BARE_UPDATE.search(sample) and INSTALMENT_STATE.match(BARE_UPDATE.search(sample)[1])
