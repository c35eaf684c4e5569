"""A small known dataset for the analytics and dashboard tests (no test here: builders only).

Two programmes, three calls, five filed files, three committed agreements (one co-funded 50/50,
one terminated, one imported), a few payments, a recovery — every expected figure of
test_analytics.py is worked out by hand from what is built below."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from calls.models import CallMode
from cpo.models import (
    Agreement,
    AgreementFunder,
    AgreementState,
    AgreementYear,
    Instalment,
    InstalmentState,
    Recovery,
    RecoveryState,
)
from grants.models import Application, ApplicationKind, ApplicationState

from .. import factories as f

A = AgreementState
I = InstalmentState  # noqa: E741
S = ApplicationState
D = Decimal


def application(call, state: str, requested: str, approved: str | None = None, **kwargs):
    qpvs = kwargs.pop("qpvs", [])
    themes = kwargs.pop("themes", [])
    app = f.ApplicationFactory(
        call=call,
        requested_amount=D(requested),
        complete=False,
        kind=kwargs.pop("kind", call.mode),
        **kwargs,
    )
    Application.objects.filter(pk=app.pk).update(
        state=state, approved_amount=D(approved) if approved else None
    )
    app.qpvs.set(qpvs)
    app.themes.set(themes)
    return Application.objects.get(pk=app.pk)


_refs = iter(range(1, 10_000))


def agreement(
    *,
    programme,
    organisation,
    total: str,
    state: str,
    application=None,
    signed_on=None,
    first_year: int = 2026,
    duration: int = 1,
) -> Agreement:
    return Agreement.objects.create(
        reference=f"CONV-T-{next(_refs):04d}",
        application=application,
        source="pluriel" if application else "imported",
        organisation=organisation,
        programme=programme,
        kind=Agreement.Kind.AGREEMENT,
        state=state,
        title="Convention",
        first_year=first_year,
        duration_years=duration,
        total_amount=D(total),
        profile="flat",
        instalment_template="at_signature",
        signed_on=signed_on,
    )


def with_funders(agreement_obj, funders) -> dict:
    return {
        fu.pk: AgreementFunder.objects.create(agreement=agreement_obj, funder=fu, share=share)
        for fu, share in funders
    }


_numbers = iter(range(1, 10_000))


def instalment(agreement_obj, funder_row, fiscal_year, amount, state, charged_year=None, **kw):
    year, _ = AgreementYear.objects.get_or_create(
        agreement=agreement_obj, fiscal_year=fiscal_year, defaults={"amount": D("0")}
    )
    return Instalment.objects.create(
        agreement=agreement_obj,
        year=year,
        funder=funder_row,
        number=next(_numbers),
        kind=Instalment.Kind.SINGLE,
        amount=D(amount),
        earliest_date=datetime.date(fiscal_year, 1, 15),
        state=state,
        charged_year=charged_year,
        paid_on=kw.get("paid_on"),
    )


@dataclass
class Dataset:
    f1: Any
    f2: Any
    p1: Any
    p2: Any
    c1: Any
    c2: Any
    c3: Any
    q1: Any
    q2: Any
    pl1: Any
    pl2: Any
    t1: Any
    apps: dict
    agreements: dict


def build() -> Dataset:
    """The dataset of test_analytics.py (see the expected figures there)."""
    f1 = f.FunderFactory(name="État")
    f2 = f.FunderFactory(name="Métropole")
    p1 = f.ProgrammeFactory(
        name="Contrat de ville", fiscal_year=2026, envelope=D("500000.00"), funders=[f1, f2]
    )
    p2 = f.ProgrammeFactory(
        name="Quartiers d'été", fiscal_year=2027, envelope=D("100000.00"), funders=[f2]
    )
    c1 = f.CallFactory(programme=p1, title="AAP cohésion", envelope=D("200000.00"))
    c2 = f.CallFactory(
        programme=p1,
        title="Appel à solutions",
        envelope=D("50000.00"),
        mode=CallMode.SOLUTIONS_CALL,
    )
    c3 = f.CallFactory(programme=p2, title="AAP été", envelope=D("80000.00"))
    q1 = f.QPVFactory(code="QN01301M", name="Bellevue")
    q2 = f.QPVFactory(code="QN01302M", name="Castellane")
    pl1 = f.PillarFactory(code="cohesion", label="Cohésion sociale")
    pl2 = f.PillarFactory(code="emploi", label="Emploi")
    t1 = f.ThemeFactory(code="alimentation", label="Alimentation")
    orgs = [f.OrganisationFactory() for _ in range(4)]
    apps = {
        "a1": application(
            c1,
            S.APPROVED,
            "10000.01",
            "9000.00",
            qpvs=[q1, q2],
            themes=[t1],
            pillar=pl1,
            organisation=orgs[0],
        ),
        "a2": application(c1, S.REJECTED, "20000.00", qpvs=[q1], pillar=pl2, organisation=orgs[1]),
        "a3": application(
            c2,
            S.APPROVED,
            "5000.01",
            "5000.01",
            qpvs=[q2],
            pillar=pl1,
            organisation=orgs[2],
            kind=ApplicationKind.SOLUTIONS_CALL,
        ),
        "a4": application(c3, S.SUBMITTED, "7000.00", pillar=None, organisation=orgs[3]),
        "a5": application(c1, S.DRAFT, "99999.00", qpvs=[q1], pillar=pl1, organisation=orgs[3]),
        "a6": application(c1, S.WITHDRAWN, "88888.00", qpvs=[q1], pillar=pl1, organisation=orgs[3]),
    }
    ag1 = agreement(
        programme=p1,
        organisation=orgs[0],
        application=apps["a1"],
        total="9000.00",
        state=A.ACTIVE,
        signed_on=datetime.date(2026, 2, 1),
    )
    rows1 = with_funders(ag1, [(f1, D("0.5")), (f2, D("0.5"))])
    instalment(ag1, rows1[f1.pk], 2026, "4500.00", I.PAID, paid_on=datetime.date(2026, 3, 1))
    instalment(ag1, rows1[f2.pk], 2026, "4500.00", I.PLANNED)
    Recovery.objects.create(
        agreement=ag1,
        fiscal_year=2026,
        reason="Non consommé",
        unspent=D("1000.00"),
        amount=D("1000.00"),
        state=RecoveryState.COLLECTED,
    )
    ag2 = agreement(
        programme=p1,
        organisation=orgs[2],
        application=apps["a3"],
        total="5000.01",
        state=A.TERMINATED,
        signed_on=datetime.date(2026, 3, 1),
    )
    rows2 = with_funders(ag2, [(f2, D("1"))])
    instalment(
        ag2,
        rows2[f2.pk],
        2026,
        "2000.00",
        I.PAID,
        charged_year=2027,
        paid_on=datetime.date(2027, 1, 20),
    )
    instalment(ag2, rows2[f2.pk], 2026, "3000.01", I.CANCELLED)
    ag3 = agreement(
        programme=p2,
        organisation=orgs[1],
        application=None,
        total="30000.00",
        state=A.COMPLETED,
        first_year=2027,
        duration=3,
    )
    rows3 = with_funders(ag3, [(f1, D("1"))])
    instalment(ag3, rows3[f1.pk], 2027, "10000.00", I.PAID, paid_on=datetime.date(2027, 2, 1))
    instalment(ag3, rows3[f1.pk], 2027, "500.00", I.DUE)
    instalment(ag3, rows3[f1.pk], 2028, "10000.00", I.PLANNED)
    instalment(ag3, rows3[f1.pk], 2029, "10000.00", I.ON_HOLD)
    Recovery.objects.create(
        agreement=ag3,
        fiscal_year=2027,
        reason="Émis",
        unspent=D("500.00"),
        amount=D("500.00"),
    )
    # A draft agreement commits nothing.
    ag4 = agreement(
        programme=p1,
        organisation=orgs[3],
        application=None,
        total="1000.00",
        state=A.DRAFT,
    )
    rows4 = with_funders(ag4, [(f1, D("1"))])
    instalment(ag4, rows4[f1.pk], 2026, "1000.00", I.PLANNED)
    return Dataset(
        f1,
        f2,
        p1,
        p2,
        c1,
        c2,
        c3,
        q1,
        q2,
        pl1,
        pl2,
        t1,
        apps,
        {"ag1": ag1, "ag2": ag2, "ag3": ag3, "ag4": ag4},
    )
