"""Amendments and recoveries: what is due never changes, the re-planned rest makes each year exact,
every version is kept; recoveries keep the reasonable surplus, offsets reduce a later instalment."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError, PermissionDenied, TransitionNotAllowed
from core.models import AuditLog, Notification
from cpo import services
from cpo import services_changes as changes
from cpo.models import Agreement, AgreementFunder, Amendment, Instalment, Recovery
from cpo.models import InstalmentState as I  # noqa: E741
from cpo.models import RecoveryState as R
from grants.models import Application, ApplicationState

from .. import factories as f

pytestmark = pytest.mark.django_db
D = datetime.date
EJ_REGION = "2100000042"


def at(day: datetime.date):
    return time_machine.travel(datetime.datetime(day.year, day.month, day.day, 12), tick=False)


def approved(amount: str, organisation=None) -> Application:
    app = f.ApplicationFactory(
        requested_amount=Decimal(amount),
        organisation=organisation or f.OrganisationFactory(),
        complete=False,
    )
    Application.objects.filter(pk=app.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal(amount)
    )
    return Application.objects.get(pk=app.pk)


def make_cpo(instructor, amount="90000.00", years=3, surplus="0", sign=True) -> Agreement:
    """A flat CPO 2026–2028 (30 000 € a year: advance 15 000 on 1 Jan, balance 15 000), signed on
    5 January 2026, its 2026 advance due since 10 January."""
    agreement = services.agreement_create_from_application(
        actor=instructor,
        application=approved(amount),
        profile="flat",
        duration_years=years,
        first_year=2026,
    )
    Agreement.objects.filter(pk=agreement.pk).update(surplus_allowance_percent=Decimal(surplus))
    if sign:
        with at(D(2026, 1, 5)):
            services.agreement_sign(actor=instructor, agreement=agreement, signed_on=D(2026, 1, 5))
        services.instalments_refresh(day=D(2026, 1, 10))
    return Agreement.objects.get(pk=agreement.pk)


@pytest.fixture
def cpo(instructor):
    return make_cpo(instructor)


@pytest.fixture(autouse=True)
def _march_2026():
    with at(D(2026, 3, 1)):
        yield


def live(agreement, year=None):
    qs = Instalment.objects.filter(agreement=agreement).exclude(state=I.CANCELLED)
    if year is not None:
        qs = qs.filter(year__fiscal_year=year)
    return qs.order_by("year__fiscal_year", "funder_id", "number")


def plan(agreement, year):
    return [
        (i.number, i.kind, i.amount, i.state, i.amendment_version) for i in live(agreement, year)
    ]


def year_sums(agreement):
    """Per year: non-cancelled instalments + recoveries offset against the year's instalments."""
    sums = {y.fiscal_year: Decimal("0") for y in agreement.years.all()}
    for i in live(agreement):
        sums[i.year.fiscal_year] += i.amount
    for r in Recovery.objects.filter(agreement=agreement, state=R.OFFSET):
        sums[r.offset_instalment.year.fiscal_year] += r.amount
    return sums


def due_snapshot(agreement):
    return {
        i.pk: (i.amount, i.state, i.amendment_version, i.earliest_date)
        for i in Instalment.objects.filter(agreement=agreement, state=I.DUE)
    }


# =========================================================================== amendments


def test_raise_future_years_keeps_the_due_advance_and_makes_each_year_exact(cpo, instructor):
    due_before = due_snapshot(cpo)
    assert list(due_before.values())[0][0] == Decimal("15000.00")  # the 2026 advance
    untouched_2028 = plan(cpo, 2028)

    amendment = changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Extension du public accueilli",
        effective_on=D(2026, 3, 1),
        years={2026: Decimal("36000"), 2027: Decimal("40000")},
    )

    agreement = Agreement.objects.get(pk=cpo.pk)
    assert agreement.version == 2 and amendment.version == 2
    assert agreement.total_amount == Decimal("106000.00")
    assert agreement.profile == "custom"
    assert due_snapshot(agreement) == due_before  # what is due never changes
    # 2026: the due advance stays, the balance is re-planned to 36 000 − 15 000.
    assert plan(agreement, 2026) == [
        (1, "advance", Decimal("15000.00"), I.DUE, 1),
        (2, "balance", Decimal("21000.00"), I.PLANNED, 2),
    ]
    balance = live(agreement, 2026).get(number=2)
    assert balance.earliest_date == D(2026, 7, 1) and balance.requires_evaluation_of is None
    # 2027: nothing due, the template again (advance 50 %, balance after the 2026 evaluation).
    assert plan(agreement, 2027) == [
        (1, "advance", Decimal("20000.00"), I.PLANNED, 2),
        (2, "balance", Decimal("20000.00"), I.PLANNED, 2),
    ]
    assert live(agreement, 2027).get(number=2).requires_evaluation_of == 2026
    assert plan(agreement, 2028) == untouched_2028  # unchanged year untouched (version 1)
    assert year_sums(agreement) == {
        2026: Decimal("36000"),
        2027: Decimal("40000"),
        2028: Decimal("30000"),
    }
    # Versions kept: the cancelled instalments are still there, with their version.
    cancelled = Instalment.objects.filter(agreement=agreement, state=I.CANCELLED)
    assert sorted((i.year.fiscal_year, i.number, i.amendment_version) for i in cancelled) == [
        (2026, 2, 1),
        (2027, 1, 1),
        (2027, 2, 1),
    ]
    assert amendment.before["years"]["2027"] == "30000.00"
    assert amendment.after["years"]["2027"] == "40000.00"
    assert amendment.before["total_amount"] == "90000.00"
    assert amendment.author == instructor and amendment.effective_on == D(2026, 3, 1)
    row = AuditLog.objects.get(action="cpo.agreement.amended", object_id=str(agreement.pk))
    assert row.actor == instructor and row.reason == "Extension du public accueilli"
    assert row.payload["version"] == 2 and row.payload["instalments_created"] == 3
    assert AuditLog.objects.filter(action="cpo.instalment.cancelled").count() == 3
    assert AuditLog.objects.filter(action="cpo.instalment.replanned").count() == 3
    assert str(amendment) == f"{agreement.reference} — avenant n° 1"


def test_a_second_amendment_is_version_three_and_keeps_the_first(cpo, instructor):
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="A",
        effective_on=D(2026, 3, 1),
        years={2027: Decimal("35000")},
    )
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="B",
        effective_on=D(2026, 3, 1),
        years={2027: Decimal("33000.50")},
    )
    agreement = Agreement.objects.get(pk=cpo.pk)
    assert agreement.version == 3
    assert list(agreement.amendments.values_list("version", "reason")) == [(2, "A"), (3, "B")]
    assert plan(agreement, 2027) == [
        (1, "advance", Decimal("16500.25"), I.PLANNED, 3),
        (2, "balance", Decimal("16500.25"), I.PLANNED, 3),
    ]
    assert Instalment.objects.filter(agreement=agreement, year__fiscal_year=2027).count() == 6


def test_lowering_below_what_is_due_is_refused_and_nothing_changes(cpo, instructor):
    with pytest.raises(DomainError) as error:
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="Baisse",
            effective_on=D(2026, 3, 1),
            years={2026: Decimal("10000")},
        )
    assert "15" in str(error.value.message) and error.value.field == "years"
    assert Agreement.objects.get(pk=cpo.pk).version == 1
    assert not Amendment.objects.exists()
    # Exactly what is due is accepted: nothing left to plan for 2026.
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Baisse",
        effective_on=D(2026, 3, 1),
        years={2026: Decimal("15000")},
    )
    assert plan(cpo, 2026) == [(1, "advance", Decimal("15000.00"), I.DUE, 1)]


def test_years_before_the_effective_date_cannot_change(cpo, instructor):
    with pytest.raises(DomainError) as error:
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="x",
            effective_on=D(2027, 1, 1),
            years={2026: Decimal("31000")},
        )
    assert error.value.field == "years"


def test_shorten_removes_only_years_with_nothing_settled(cpo, instructor):
    amendment = changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Fin anticipée du projet",
        effective_on=D(2026, 3, 1),
        duration_years=2,
    )
    agreement = Agreement.objects.get(pk=cpo.pk)
    assert agreement.duration_years == 2 and agreement.total_amount == Decimal("60000.00")
    assert list(agreement.years.values_list("fiscal_year", flat=True)) == [2026, 2027]
    assert not Instalment.objects.filter(agreement=agreement, year__fiscal_year=2028).exists()
    assert list(agreement.evaluations.values_list("fiscal_year", "is_final")) == [
        (2026, False),
        (2027, True),
    ]
    assert amendment.before == {
        "years": {"2026": "30000.00", "2027": "30000.00", "2028": "30000.00"},
        "duration_years": 3,
        "total_amount": "90000.00",
        "profile": "flat",
    }
    assert amendment.after["duration_years"] == 2 and "2028" not in amendment.after["years"]
    services.instalments_refresh(day=D(2027, 1, 5))  # the 2027 advance falls due
    with pytest.raises(DomainError) as error:
        changes.amendment_create(
            actor=instructor,
            agreement=agreement,
            reason="x",
            effective_on=D(2026, 12, 1),
            duration_years=1,
        )
    assert error.value.field == "duration_years" and "2027" in str(error.value.message)
    assert Agreement.objects.get(pk=cpo.pk).duration_years == 2


def test_extend_adds_years_and_evaluations(cpo, instructor):
    with pytest.raises(DomainError) as error:
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="x",
            effective_on=D(2026, 3, 1),
            duration_years=5,
            years={2029: Decimal("30000")},
        )
    assert "2030" in str(error.value.message)
    preview = changes.amendment_preview(
        agreement=cpo, duration_years=5, years={2029: Decimal("30000"), 2030: Decimal("25000")}
    )
    assert preview["warnings"]  # beyond the 4 years the circulaire recommends
    assert [y["status"] for y in preview["years"]] == [
        "unchanged",
        "unchanged",
        "unchanged",
        "added",
        "added",
    ]
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Prolongation",
        effective_on=D(2026, 3, 1),
        duration_years=5,
        years={2029: Decimal("30000"), 2030: Decimal("25000")},
    )
    agreement = Agreement.objects.get(pk=cpo.pk)
    assert agreement.duration_years == 5 and agreement.last_year == 2030
    assert agreement.total_amount == Decimal("145000.00")
    assert year_sums(agreement)[2030] == Decimal("25000")
    assert plan(agreement, 2030) == [
        (1, "advance", Decimal("12500.00"), I.PLANNED, 2),
        (2, "balance", Decimal("12500.00"), I.PLANNED, 2),
    ]
    assert live(agreement, 2030).get(number=2).requires_evaluation_of == 2029
    evaluations = list(agreement.evaluations.values_list("fiscal_year", "due_on", "is_final"))
    assert evaluations[-2:] == [(2029, D(2030, 6, 30), False), (2030, D(2031, 6, 30), True)]
    assert not any(final for _y, _d, final in evaluations[:-1])


def test_change_co_funding_from_next_year(cpo, instructor):
    state = cpo.funders.get().funder
    region = f.FunderFactory(name="Région Sud", kind="region")
    due_before = due_snapshot(cpo)
    amendment = changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="La Région rejoint le financement",
        effective_on=D(2027, 1, 1),
        funders=[
            {"funder": state, "share": Decimal("0.6")},
            {"funder": region, "share": Decimal("0.4"), "ej_number": EJ_REGION},
        ],
    )
    agreement = Agreement.objects.get(pk=cpo.pk)
    assert due_snapshot(agreement) == due_before
    assert agreement.total_amount == Decimal("90000.00")  # amounts unchanged
    link = AgreementFunder.objects.get(agreement=agreement, funder=region)
    assert link.share == Decimal("0.4") and link.ej_number == EJ_REGION
    assert {r["funder"]: r["share"] for r in amendment.after["funders"]} == {
        str(state): "0.6",
        "Région Sud": "0.4",
    }
    assert all(i.amendment_version == 1 for i in live(agreement, 2026))  # before the effect
    for year in (2027, 2028):
        rows = [(i.funder.funder, i.number, i.amount) for i in live(agreement, year)]
        assert sorted(rows, key=lambda r: (r[0].pk, r[1])) == [
            (state, 1, Decimal("9000.00")),
            (state, 2, Decimal("9000.00")),
            (region, 1, Decimal("6000.00")),
            (region, 2, Decimal("6000.00")),
        ]
    assert year_sums(agreement) == {y: Decimal("30000") for y in (2026, 2027, 2028)}


def test_new_funder_mid_year_shares_only_what_is_left(cpo, instructor):
    state = cpo.funders.get().funder
    region = f.FunderFactory(name="Région Sud", kind="region")
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="La Région remplace l'État pour le reste",
        effective_on=D(2026, 3, 1),
        funders=[{"funder": region, "share": Decimal("1")}],
    )
    agreement = Agreement.objects.get(pk=cpo.pk)
    rows = [(i.funder.funder, i.number, i.amount, i.state) for i in live(agreement, 2026)]
    assert rows == [
        (state, 1, Decimal("15000.00"), I.DUE),  # the State's due advance stays
        (region, 1, Decimal("7500.00"), I.DUE),  # released at once: its date has come
        (region, 2, Decimal("7500.00"), I.PLANNED),  # the first year's balance: 1 July
    ]
    assert AgreementFunder.objects.get(agreement=agreement, funder=state).share == 0
    assert year_sums(agreement)[2026] == Decimal("30000")


def test_kind_recomputed_and_objectives_only_amendment(instructor):
    agreement = make_cpo(instructor, amount="60000.00")
    assert agreement.kind == Agreement.Kind.DECISION  # 20 000 € a year
    changes.amendment_create(
        actor=instructor,
        agreement=agreement,
        reason="Hausse",
        effective_on=D(2026, 3, 1),
        years={2027: Decimal("25000")},
    )
    agreement = Agreement.objects.get(pk=agreement.pk)
    assert agreement.kind == Agreement.Kind.AGREEMENT
    count = Instalment.objects.count()
    amendment = changes.amendment_create(
        actor=instructor,
        agreement=agreement,
        reason="Nouvel objectif",
        effective_on=D(2026, 3, 1),
        objectives=["Accueillir 40 jeunes", " Ouvrir le samedi "],
    )
    assert amendment.after == {"objectives": ["Accueillir 40 jeunes", "Ouvrir le samedi"]}
    assert Instalment.objects.count() == count
    assert changes.amendment_preview(agreement=agreement)["objectives_before"] == [
        "Accueillir 40 jeunes",
        "Ouvrir le samedi",
    ]
    with pytest.raises(DomainError):
        changes.amendment_create(
            actor=instructor,
            agreement=agreement,
            reason="Rien",
            effective_on=D(2026, 3, 1),
            objectives=["Accueillir 40 jeunes", "Ouvrir le samedi"],
        )


def test_suspended_agreement_replans_on_hold(cpo, instructor):
    services.agreement_suspend(actor=instructor, agreement=cpo, reason="Enquête")
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Hausse",
        effective_on=D(2026, 3, 1),
        years={2027: Decimal("32000")},
    )
    new = live(cpo, 2027)
    assert {i.state for i in new} == {I.ON_HOLD}
    assert sum(i.amount for i in new) == Decimal("32000")


def test_active_agreement_releases_replanned_instalments_at_once(cpo, instructor):
    with at(D(2026, 7, 2)):
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="Hausse",
            effective_on=D(2026, 7, 2),
            years={2026: Decimal("32000")},
        )
    assert plan(cpo, 2026)[1][2:4] == (Decimal("17000.00"), I.DUE)


def test_preview_writes_nothing(cpo, instructor):
    audit_rows = AuditLog.objects.count()
    preview = changes.amendment_preview(
        agreement=cpo, years={2026: Decimal("36000")}, effective_on=D(2026, 3, 1)
    )
    assert AuditLog.objects.count() == audit_rows and not Amendment.objects.exists()
    assert preview["years"][0] == {
        "fiscal_year": 2026,
        "before": Decimal("30000.00"),
        "after": Decimal("36000.00"),
        "difference": Decimal("6000.00"),
        "settled": Decimal("15000.00"),
        "status": "changed",
    }
    assert [(r["number"], r["amount"]) for r in preview["to_cancel"]] == [(2, Decimal("15000.00"))]
    assert [(r["number"], r["kind"], r["amount"]) for r in preview["to_create"]] == [
        (2, "balance", Decimal("21000.00"))
    ]
    assert preview["total_after"] == Decimal("96000.00") and preview["version_after"] == 2
    with pytest.raises(PermissionDenied):
        changes.amendment_preview(agreement=cpo, years={2026: Decimal("1")}, actor=f.UserFactory())


def test_amendment_refusals(cpo, instructor, applicant):
    kwargs = {"effective_on": D(2026, 3, 1), "years": {2027: Decimal("31000")}}
    with pytest.raises(PermissionDenied):
        changes.amendment_create(actor=applicant, agreement=cpo, reason="x", **kwargs)
    with pytest.raises(DomainError) as error:
        changes.amendment_create(actor=instructor, agreement=cpo, reason="  ", **kwargs)
    assert error.value.field == "reason"
    with pytest.raises(DomainError):
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="x",
            effective_on=D(2026, 3, 1),
            years={2027: 31000.5},
        )
    with pytest.raises(DomainError):
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="x",
            effective_on=D(2026, 3, 1),
            duration_years=6,
        )
    with pytest.raises(DomainError):
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="x",
            effective_on=D(2026, 3, 1),
            funders=[{"funder": cpo.funders.get().funder, "share": Decimal("0.9")}],
        )
    draft = make_cpo(instructor, sign=False)
    with pytest.raises(TransitionNotAllowed):
        changes.amendment_create(actor=instructor, agreement=draft, reason="x", **kwargs)
    services.agreement_terminate(actor=instructor, agreement=cpo, reason="Dissolution")
    with pytest.raises(TransitionNotAllowed):
        changes.amendment_create(actor=instructor, agreement=cpo, reason="x", **kwargs)
    assert not Amendment.objects.exists()


def test_amendment_failure_rolls_everything_back(cpo, instructor):
    before = sorted(Instalment.objects.values_list("pk", "state", "amount"))
    with (
        mock.patch("cpo.services_changes.common.audit_log", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        changes.amendment_create(
            actor=instructor,
            agreement=cpo,
            reason="x",
            effective_on=D(2026, 3, 1),
            years={2026: Decimal("40000"), 2027: Decimal("40000")},
            duration_years=2,
        )
    agreement = Agreement.objects.get(pk=cpo.pk)
    assert (agreement.version, agreement.total_amount, agreement.duration_years) == (
        1,
        Decimal("90000.00"),
        3,
    )
    assert sorted(Instalment.objects.values_list("pk", "state", "amount")) == before
    assert agreement.evaluations.count() == 3 and not Amendment.objects.exists()


AMOUNTS = st.integers(min_value=100_00, max_value=80_000_00).map(lambda c: Decimal(c) / 100)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    new=st.fixed_dictionaries({2026: AMOUNTS, 2027: AMOUNTS, 2028: AMOUNTS}),
    shares=st.sampled_from(
        [
            None,
            (Decimal("1"),),
            (Decimal("0.5"), Decimal("0.5")),
            (Decimal("0.333333"), Decimal("0.666667")),
        ]
    ),
    next_year=st.booleans(),
)
def test_property_replanned_plus_untouched_make_each_year_exact(
    cpo, instructor, new, shares, next_year
):
    with transaction.atomic():
        if next_year:  # January 2027: the 2026 balance and the 2027 advance fall due too
            services.instalments_refresh(day=D(2027, 1, 5))
        due_before = due_snapshot(cpo)
        settled = {
            2026: Decimal(30000 if next_year else 15000),
            2027: Decimal(15000 if next_year else 0),
        }
        funders = None
        if shares is not None:
            state = cpo.funders.get().funder
            others = [f.FunderFactory(name=f"Cofinanceur {n}") for n in range(len(shares) - 1)]
            funders = [
                {"funder": funder, "share": share}
                for funder, share in zip([state, *others], shares, strict=True)
            ]
        refused = any(new[y] < settled.get(y, 0) for y in new)
        try:
            changes.amendment_create(
                actor=instructor,
                agreement=cpo,
                reason="Propriété",
                effective_on=D(2026, 3, 1),
                years=new,
                funders=funders,
            )
        except DomainError:
            assert refused
            assert Agreement.objects.get(pk=cpo.pk).version == 1
        else:
            assert not refused
            agreement = Agreement.objects.get(pk=cpo.pk)
            assert year_sums(agreement) == new
            assert agreement.total_amount == sum(new.values())
            due_after = due_snapshot(agreement)
            assert {pk: due_after.get(pk) for pk in due_before} == due_before
            assert all(i.amount > 0 for i in live(agreement))
        transaction.set_rollback(True)


# =========================================================================== recoveries


@pytest.fixture
def member(applicant, cpo):
    f.add_member(applicant, cpo.organisation)
    return applicant


def test_recovery_keeps_the_reasonable_surplus(instructor, applicant):
    agreement = make_cpo(instructor, surplus="10")  # 10 % of 30 000 = 3 000 € kept
    f.add_member(applicant, agreement.organisation)
    for unspent in ("3000", "2500.50"):
        with pytest.raises(DomainError) as error:
            changes.recovery_issue(
                actor=instructor,
                agreement=agreement,
                fiscal_year=2026,
                unspent=Decimal(unspent),
                reason="x",
            )
        assert "excédent raisonnable" in str(error.value.message)
    with pytest.raises(DomainError):  # more than granted for the year
        changes.recovery_issue(
            actor=instructor,
            agreement=agreement,
            fiscal_year=2026,
            unspent=Decimal("30000.01"),
            reason="x",
        )
    recovery = changes.recovery_issue(
        actor=instructor,
        agreement=agreement,
        fiscal_year=2026,
        unspent=Decimal("5000"),
        reason="Actions non réalisées",
    )
    assert (recovery.unspent, recovery.surplus_kept, recovery.amount) == (
        Decimal("5000.00"),
        Decimal("3000.00"),
        Decimal("2000.00"),
    )
    assert recovery.state == R.ISSUED and recovery.issued_by == instructor
    row = AuditLog.objects.get(action="cpo.recovery.issued", object_id=str(recovery.pk))
    assert row.payload["amount"] == "2000.00" and row.target_state == R.ISSUED
    assert Notification.objects.filter(user=applicant, title__contains="reversement").exists()
    second = changes.recovery_issue(  # the year's allowance is already kept by the first one
        actor=instructor,
        agreement=agreement,
        fiscal_year=2026,
        unspent=Decimal("1000"),
        reason="Reliquat",
    )
    assert (second.surplus_kept, second.amount) == (Decimal("0.00"), Decimal("1000.00"))
    with pytest.raises(DomainError):  # with the first ones, beyond the year's grant
        changes.recovery_issue(
            actor=instructor,
            agreement=agreement,
            fiscal_year=2026,
            unspent=Decimal("24000.01"),
            reason="x",
        )
    with pytest.raises(DomainError):
        changes.recovery_issue(
            actor=instructor,
            agreement=agreement,
            fiscal_year=2031,
            unspent=Decimal("5000"),
            reason="x",
        )


def test_recovery_without_surplus_and_refusals(cpo, instructor, applicant):
    recovery = changes.recovery_issue(
        actor=instructor,
        agreement=cpo,
        fiscal_year=2026,
        unspent=Decimal("1234.56"),
        reason="Dépenses non justifiées",
    )
    assert recovery.amount == Decimal("1234.56") and recovery.surplus_kept == 0
    with pytest.raises(PermissionDenied):
        changes.recovery_issue(
            actor=applicant, agreement=cpo, fiscal_year=2026, unspent=Decimal("1"), reason="x"
        )
    with pytest.raises(DomainError):
        changes.recovery_issue(
            actor=instructor, agreement=cpo, fiscal_year=2026, unspent=Decimal("1"), reason=" "
        )
    with pytest.raises(DomainError):
        changes.recovery_issue(
            actor=instructor, agreement=cpo, fiscal_year=2026, unspent=0.5, reason="x"
        )
    draft = make_cpo(instructor, sign=False)
    with pytest.raises(TransitionNotAllowed):
        changes.recovery_issue(
            actor=instructor, agreement=draft, fiscal_year=2026, unspent=Decimal("1"), reason="x"
        )


def test_offset_reduces_a_later_instalment_and_amendments_keep_it(cpo, instructor):
    recovery = changes.recovery_issue(
        actor=instructor, agreement=cpo, fiscal_year=2026, unspent=Decimal("2000"), reason="x"
    )
    same_year = live(cpo, 2026).get(number=2)
    with pytest.raises(DomainError):  # not a later year
        changes.recovery_offset(actor=instructor, recovery=recovery, instalment=same_year)
    balance = live(cpo, 2027).get(number=2)
    recovery = changes.recovery_offset(actor=instructor, recovery=recovery, instalment=balance)
    assert recovery.state == R.OFFSET and recovery.offset_instalment == balance
    assert Instalment.objects.get(pk=balance.pk).amount == Decimal("13000.00")
    assert AuditLog.objects.filter(
        action="cpo.recovery.offset", object_id=str(recovery.pk)
    ).exists()
    row = AuditLog.objects.get(action="cpo.instalment.offset", object_id=str(balance.pk))
    assert row.payload == {"recovery": recovery.pk, "before": "15000.00", "after": "13000.00"}
    # Idempotent, then refused as a second transition.
    assert changes.recovery_offset(actor=instructor, recovery=recovery, instalment=balance).pk
    with pytest.raises(TransitionNotAllowed):
        changes.recovery_collect(actor=instructor, recovery=recovery)
    # An amendment of 2027 keeps the deduction: instalments + offset = the new amount.
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Hausse",
        effective_on=D(2026, 3, 1),
        years={2027: Decimal("32000")},
    )
    assert sum(i.amount for i in live(cpo, 2027)) == Decimal("30000.00")
    assert year_sums(cpo)[2027] == Decimal("32000")
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Hausse bis",
        effective_on=D(2026, 3, 1),
        years={2027: Decimal("34000")},
    )
    assert year_sums(cpo)[2027] == Decimal("34000")


def test_offset_refusals(cpo, instructor, finance_officer):
    recovery = changes.recovery_issue(
        actor=instructor, agreement=cpo, fiscal_year=2026, unspent=Decimal("15000"), reason="x"
    )
    balance = live(cpo, 2027).get(number=2)
    with pytest.raises(DomainError) as error:  # would leave nothing to pay
        changes.recovery_offset(actor=finance_officer, recovery=recovery, instalment=balance)
    assert error.value.field == "instalment"
    other = make_cpo(instructor)
    with pytest.raises(DomainError):
        changes.recovery_offset(
            actor=finance_officer, recovery=recovery, instalment=live(other, 2027).first()
        )
    cancelled = Instalment.objects.filter(agreement=cpo, year__fiscal_year=2027).first()
    changes.amendment_create(
        actor=instructor,
        agreement=cpo,
        reason="Hausse",
        effective_on=D(2026, 3, 1),
        years={2027: Decimal("40000")},
    )
    with pytest.raises(DomainError):
        changes.recovery_offset(
            actor=finance_officer,
            recovery=recovery,
            instalment=Instalment.objects.get(pk=cancelled.pk),
        )
    assert Recovery.objects.get(pk=recovery.pk).state == R.ISSUED
    changes.recovery_offset(
        actor=finance_officer, recovery=recovery, instalment=live(cpo, 2027).get(number=1)
    )
    assert live(cpo, 2027).get(number=1).amount == Decimal("5000.00")


def test_offset_failure_rolls_back_both(cpo, instructor):
    recovery = changes.recovery_issue(
        actor=instructor, agreement=cpo, fiscal_year=2026, unspent=Decimal("2000"), reason="x"
    )
    balance = live(cpo, 2027).get(number=2)
    with (
        mock.patch("cpo.services_changes.recoveries.audit_log", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        changes.recovery_offset(actor=instructor, recovery=recovery, instalment=balance)
    assert Instalment.objects.get(pk=balance.pk).amount == Decimal("15000.00")
    assert Recovery.objects.get(pk=recovery.pk).state == R.ISSUED


def test_collect_and_cancel_transitions(cpo, instructor, finance_officer, applicant):
    recovery = changes.recovery_issue(
        actor=instructor, agreement=cpo, fiscal_year=2026, unspent=Decimal("800"), reason="x"
    )
    with pytest.raises(PermissionDenied):
        changes.recovery_collect(actor=applicant, recovery=recovery)
    recovery = changes.recovery_collect(actor=finance_officer, recovery=recovery)
    assert recovery.state == R.COLLECTED and recovery.closed_at is not None
    assert changes.recovery_collect(actor=finance_officer, recovery=recovery).state == R.COLLECTED
    assert AuditLog.objects.filter(action="cpo.recovery.collected").count() == 1
    with pytest.raises(TransitionNotAllowed):
        changes.recovery_cancel(actor=instructor, recovery=recovery, reason="Erreur")

    second = changes.recovery_issue(
        actor=instructor, agreement=cpo, fiscal_year=2027, unspent=Decimal("500"), reason="y"
    )
    with pytest.raises(DomainError):
        changes.recovery_cancel(actor=instructor, recovery=second, reason="")
    with pytest.raises(PermissionDenied):
        changes.recovery_cancel(actor=finance_officer, recovery=second, reason="Erreur")
    with (
        mock.patch("core.fsm.audit_log", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        changes.recovery_cancel(actor=instructor, recovery=second, reason="Erreur")
    assert Recovery.objects.get(pk=second.pk).state == R.ISSUED
    second = changes.recovery_cancel(actor=instructor, recovery=second, reason="Remise gracieuse")
    row = AuditLog.objects.get(action="cpo.recovery.cancelled", object_id=str(second.pk))
    assert (row.source_state, row.target_state, row.reason) == (
        R.ISSUED,
        R.CANCELLED,
        "Remise gracieuse",
    )
    with pytest.raises(TransitionNotAllowed):
        changes.recovery_collect(actor=finance_officer, recovery=second)
    # A cancelled recovery no longer counts against the year's grant.
    changes.recovery_issue(
        actor=instructor, agreement=cpo, fiscal_year=2027, unspent=Decimal("30000"), reason="z"
    )


def test_recovery_on_a_terminated_agreement(cpo, instructor):
    services.agreement_terminate(actor=instructor, agreement=cpo, reason="Dissolution")
    recovery = changes.recovery_issue(
        actor=instructor,
        agreement=cpo,
        fiscal_year=2026,
        unspent=Decimal("15000"),
        reason="Avance non consommée",
    )
    assert recovery.amount == Decimal("15000.00")


def test_recovery_notification_reaches_an_english_reader_in_english(
    settings, instructor, applicant, django_capture_on_commit_callbacks
):
    """Issue 16: notifications are rendered in the recipient's language, with absolute links."""
    from django.core import mail
    from django.utils import translation

    settings.SITE_URL = "https://pluriel.example.org"
    applicant.language = "en"
    applicant.save(update_fields=["language"])
    agreement = make_cpo(instructor, surplus="10")
    f.add_member(applicant, agreement.organisation)
    with django_capture_on_commit_callbacks(execute=True):
        changes.recovery_issue(
            actor=instructor,
            agreement=agreement,
            fiscal_year=2026,
            unspent=Decimal("5000"),
            reason="Actions non réalisées",
        )
    row = Notification.objects.get(user=applicant)
    expected = f"Agreement {agreement.reference}: recovery of"
    assert row.title.startswith(expected)  # stored in the reader's language
    with translation.override("fr"):
        assert row.display_title.startswith(f"Convention {agreement.reference} : reversement")
    (email,) = [m for m in mail.outbox if m.to == [applicant.email]]
    assert email.subject.startswith(f"[Pluriel] {expected}")
    assert f"https://pluriel.example.org/conventions/{agreement.pk}/" in email.body
