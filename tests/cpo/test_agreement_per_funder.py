"""One agreement per funder when a funder insists (issue 15): the file's joint agreement for the
other granted parts and one agreement per such funder, each with its own years, instalments and
EJ; and amendments of a co-funded agreement re-plan each funder on its exact amount, not on its
six-place share (docs/decisions/2026-12-07-agreement-per-funder.md)."""

from __future__ import annotations

import datetime
import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse

from core.errors import DomainError
from core.money import split_exact
from cpo import services as cpo_services
from cpo import services_changes as changes
from cpo.models import Agreement, AgreementFunder, Instalment, InstalmentState
from grants import services
from grants.models import Application, ApplicationState

from .. import factories as f
from ..grants.test_cofunding import part_of, world  # noqa: F401

pytestmark = pytest.mark.django_db


def _cofunded(world, manager, *, state="30000", commune="15000", separate=()):  # noqa: F811
    """A file asking the State and the commune, both granting in full; `separate`: the funders
    (keys of `world`) that insist on their own agreement."""
    application = f.ApplicationFactory(
        call=world["call"],
        organisation=world["organisation"],
        state=ApplicationState.IN_COMMITTEE,
        complete=False,
    )
    rest = Decimal("80000") - Decimal(state) - Decimal(commune)
    services.application_set_budget_rows(
        application,
        [
            {"account": "64", "label": "Salaires", "amount": "80000"},
            {
                "account": "74",
                "subsidy_source": "state",
                "funder": world["state"].pk,
                "amount": state,
            },
            {
                "account": "74",
                "subsidy_source": "municipality",
                "funder": world["commune"].pk,
                "amount": commune,
            },
            {"account": "75", "label": "Cotisations", "amount": str(rest)},
        ],
    )
    for key in separate:
        services.funder_part_set_separate_agreement(
            actor=manager, part=part_of(application, world[key]), separate=True
        )
    for key, amount in (("state", state), ("commune", commune)):
        services.funder_part_propose(
            actor=manager, part=part_of(application, world[key]), amount=amount
        )
        services.funder_part_decide(
            actor=manager,
            part=part_of(application, world[key]),
            decision="approve",
            amount=amount,
            reference="Comité 12",
        )
    application = Application.objects.get(pk=application.pk)
    assert application.state == ApplicationState.APPROVED
    return application


def _paid_by(agreement: Agreement) -> dict[str, Decimal]:
    return dict(
        Instalment.objects.filter(agreement=agreement)
        .exclude(state=InstalmentState.CANCELLED)
        .values_list("funder__funder__name")
        .annotate(total=Sum("amount"))
    )


def test_a_funder_that_insists_gets_its_own_agreement(world, manager):  # noqa: F811
    application = _cofunded(world, manager, separate=("commune",))
    joint = cpo_services.agreement_create_from_application(
        actor=manager, application=application, profile="flat", duration_years=3, first_year=2026
    )
    agreements = list(Agreement.objects.filter(application=application).order_by("pk"))
    assert len(agreements) == 2
    own = agreements[1]
    # The joint agreement (returned, and « the » agreement of the file) is the State's alone.
    assert (joint.pk, joint.funder_id, joint.total_amount) == (
        agreements[0].pk,
        None,
        Decimal("30000.00"),
    )
    assert Application.objects.get(pk=application.pk).agreement == joint
    assert _paid_by(joint) == {"État — ANCT": Decimal("30000.00")}
    # The commune's own agreement: its programme, its years, its instalments, its EJ row.
    assert own.funder == world["commune"]
    assert own.programme == world["commune_programme"]
    assert own.total_amount == Decimal("15000.00")
    assert own.reference != joint.reference
    assert list(own.years.values_list("amount", flat=True)) == [Decimal("5000.00")] * 3
    assert list(joint.years.values_list("amount", flat=True)) == [Decimal("10000.00")] * 3
    assert _paid_by(own) == {"Ville d'Aix": Decimal("15000.00")}
    link = own.funders.get()
    assert (link.funder, link.share, link.granted_amount) == (
        world["commune"],
        Decimal("1"),
        Decimal("15000.00"),
    )
    assert own.evaluations.count() == 3
    # Signed on its own: the joint agreement stays a draft.
    cpo_services.agreement_sign(actor=manager, agreement=own, signed_on=datetime.date(2026, 1, 5))
    assert Agreement.objects.get(pk=own.pk).state == "signed"
    assert Agreement.objects.get(pk=joint.pk).state == "draft"


def test_the_years_are_split_exactly_between_the_agreements(world, manager):  # noqa: F811
    application = _cofunded(
        world, manager, state="20000.01", commune="10000", separate=("commune",)
    )
    joint = cpo_services.agreement_create_from_application(
        actor=manager,
        application=application,
        profile="custom",
        custom=[Decimal("10000.00"), Decimal("10000.01"), Decimal("10000.00")],
        rounding_unit=Decimal("0.01"),
        duration_years=3,
        first_year=2026,
    )
    own = Agreement.objects.get(application=application, funder=world["commune"])
    joint_years = list(joint.years.values_list("amount", flat=True))
    own_years = list(own.years.values_list("amount", flat=True))
    # Each agreement adds up to its funder's decision, each year to the file's year.
    assert sum(joint_years) == Decimal("20000.01") and sum(own_years) == Decimal("10000.00")
    assert [a + b for a, b in zip(joint_years, own_years, strict=True)] == [
        Decimal("10000.00"),
        Decimal("10000.01"),
        Decimal("10000.00"),
    ]
    assert _paid_by(joint) == {"État — ANCT": Decimal("20000.01")}
    assert _paid_by(own) == {"Ville d'Aix": Decimal("10000.00")}


def test_every_funder_insisting_makes_one_agreement_each(world, manager):  # noqa: F811
    application = _cofunded(world, manager, separate=("state", "commune"))
    first = cpo_services.agreement_create_from_application(
        actor=manager, application=application, profile="flat", duration_years=1, first_year=2026
    )
    by_funder = {a.funder.name: a for a in Agreement.objects.filter(application=application)}
    assert set(by_funder) == {"État — ANCT", "Ville d'Aix"}
    assert first.funder == world["state"]
    assert Application.objects.get(pk=application.pk).agreement == first
    assert by_funder["État — ANCT"].programme == world["programme"]
    assert _paid_by(by_funder["Ville d'Aix"]) == {"Ville d'Aix": Decimal("15000.00")}


def test_a_file_has_its_agreements_once(world, manager):  # noqa: F811
    application = _cofunded(world, manager, separate=("commune",))
    cpo_services.agreement_create_from_application(actor=manager, application=application)
    with pytest.raises(DomainError) as error:
        cpo_services.agreement_create_from_application(actor=manager, application=application)
    assert error.value.code == "exists"
    assert Agreement.objects.filter(application=application).count() == 2
    # The database says so too: one joint agreement, one per funder.
    joint = Agreement.objects.get(application=application, funder__isnull=True)
    for funder in (None, world["commune"]):
        with pytest.raises(IntegrityError), transaction.atomic():
            Agreement.objects.create(
                reference=f"X-{funder}",
                application=application,
                funder=funder,
                organisation=joint.organisation,
                programme=joint.programme,
                kind=joint.kind,
                title="Doublon",
                first_year=2026,
                duration_years=1,
                total_amount=Decimal("1"),
                profile="flat",
                instalment_template="at_signature",
            )


def test_funders_typed_by_the_user_make_one_agreement(world, manager):  # noqa: F811
    application = _cofunded(world, manager, separate=("commune",))
    agreement = cpo_services.agreement_create_from_application(
        actor=manager,
        application=application,
        funders=[{"funder": world["state"], "share": Decimal("1")}],
    )
    assert Agreement.objects.filter(application=application).count() == 1
    assert agreement.funder_id is None and agreement.total_amount == Decimal("45000.00")


# --------------------------------------------------------------------------- amendments


def test_an_amendment_keeps_each_funders_instalments_cent_exact(world, manager):  # noqa: F811
    """2/3 – 1/3 (30 000 / 15 000): the shares are 0.666667 / 0.333333; a year amended to
    40 000 € gives 26 666.67 / 13 333.33 on the amounts granted (on the shares it would be
    26 666.68 / 13 333.32)."""
    application = _cofunded(world, manager)
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application, profile="flat", duration_years=1, first_year=2026
    )
    assert {link.share for link in agreement.funders.all()} == {
        Decimal("0.666667"),
        Decimal("0.333333"),
    }
    cpo_services.agreement_sign(
        actor=manager, agreement=agreement, signed_on=datetime.date(2026, 1, 5)
    )
    changes.amendment_create(
        actor=manager,
        agreement=Agreement.objects.get(pk=agreement.pk),
        reason="Public élargi",
        effective_on=datetime.date(2026, 1, 5),
        years={2026: Decimal("40000")},
    )
    expected = split_exact(Decimal("40000"), [Decimal("30000"), Decimal("15000")])
    assert expected == [Decimal("26666.67"), Decimal("13333.33")]
    assert _paid_by(agreement) == {
        "État — ANCT": Decimal("26666.67"),
        "Ville d'Aix": Decimal("13333.33"),
    }
    # Each funder's amended amount is kept, and the next amendment splits on it as well.
    granted = dict(
        AgreementFunder.objects.filter(agreement=agreement).values_list(
            "funder__name", "granted_amount"
        )
    )
    assert granted == {"État — ANCT": Decimal("26666.67"), "Ville d'Aix": Decimal("13333.33")}
    changes.amendment_create(
        actor=manager,
        agreement=Agreement.objects.get(pk=agreement.pk),
        reason="Retour au budget initial",
        effective_on=datetime.date(2026, 1, 5),
        years={2026: Decimal("45000")},
    )
    assert _paid_by(agreement) == {
        "État — ANCT": Decimal("30000.00"),
        "Ville d'Aix": Decimal("15000.00"),
    }


def test_new_shares_on_an_amendment_replace_the_amounts_granted(world, manager):  # noqa: F811
    application = _cofunded(world, manager)
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application, profile="flat", duration_years=1, first_year=2026
    )
    cpo_services.agreement_sign(
        actor=manager, agreement=agreement, signed_on=datetime.date(2026, 1, 5)
    )
    changes.amendment_create(
        actor=manager,
        agreement=Agreement.objects.get(pk=agreement.pk),
        reason="La commune reprend la moitié",
        effective_on=datetime.date(2026, 1, 5),
        funders=[
            {"funder": world["state"], "share": Decimal("0.5")},
            {"funder": world["commune"], "share": Decimal("0.5")},
        ],
    )
    assert set(
        AgreementFunder.objects.filter(agreement=agreement).values_list("granted_amount", flat=True)
    ) == {None}
    assert _paid_by(agreement) == {
        "État — ANCT": Decimal("22500.00"),
        "Ville d'Aix": Decimal("22500.00"),
    }


# --------------------------------------------------------------------------- pages


def test_the_prepare_page_builds_the_agreements_from_the_parts(client, world, manager):  # noqa: F811
    application = _cofunded(world, manager, separate=("commune",))
    url = reverse("cpo:agreement_prepare", args=[application.pk])
    client.force_login(manager)
    html = client.get(url).content.decode()
    # No funder rows to type: the decisions say who pays what.
    assert 'id="part-agreements"' in html and 'name="funders-0-funder"' not in html
    assert "Convention propre à Ville d&#x27;Aix" in html
    data = {
        "profile": "flat",
        "duration_years": "1",
        "first_year": "2026",
        "rounding_unit": "1",
        "instalment_template": "advance_balance",
        "advance_percent": "50",
        "interim_percent": "30",
        "advance_cap_percent": "50",
    }
    response = client.post(url, {**data, "stage": "preview"})
    assert response.status_code == 200 and 'id="create-button"' in response.content.decode()
    response = client.post(url, {**data, "stage": "create"})
    joint = Agreement.objects.get(application=application, funder__isnull=True)
    assert response.status_code == 302
    assert response["Location"] == reverse("cpo:agreement_detail", args=[joint.pk])
    assert _paid_by(joint) == {"État — ANCT": Decimal("30000.00")}
    own = Agreement.objects.get(application=application, funder=world["commune"])
    # The file's page links to both.
    html = client.get(reverse("grants:application_detail", args=[application.pk])).content.decode()
    assert reverse("cpo:agreement_detail", args=[joint.pk]) in html
    assert reverse("cpo:agreement_detail", args=[own.pk]) in html
    assert "Voir la convention avec Ville d&#x27;Aix" in html


def test_migration_gives_existing_cofunded_agreements_their_exact_amounts(world, manager):  # noqa: F811
    migration = importlib.import_module("cpo.migrations.0012_agreement_per_funder")
    application = _cofunded(world, manager)
    agreement = cpo_services.agreement_create_from_application(
        actor=manager, application=application, profile="flat", duration_years=1, first_year=2026
    )
    AgreementFunder.objects.update(granted_amount=None)  # as before the migration
    migration.granted_amounts(django_apps, None)
    granted = dict(
        AgreementFunder.objects.filter(agreement=agreement).values_list(
            "funder__name", "granted_amount"
        )
    )
    assert granted == {"État — ANCT": Decimal("30000.00"), "Ville d'Aix": Decimal("15000.00")}
    # The agreement itself is unchanged: its file's joint agreement.
    assert Agreement.objects.get(pk=agreement.pk).funder_id is None


def test_the_api_names_the_funder_of_an_agreement_of_its_own(client, world, manager):  # noqa: F811
    application = _cofunded(world, manager, separate=("commune",))
    joint = cpo_services.agreement_create_from_application(actor=manager, application=application)
    own = Agreement.objects.get(application=application, funder=world["commune"])
    client.force_login(manager)
    body = client.get(f"/api/agreements/{own.pk}/").json()
    assert body["funder"] == world["commune"].pk and body["application"] == application.pk
    assert [(r["funder"], r["granted_amount"]) for r in body["funders"]] == [
        (world["commune"].pk, "15000.00")
    ]
    assert client.get(f"/api/agreements/{joint.pk}/").json()["funder"] is None


def test_an_agreement_of_its_own_is_drawn_up_between_its_funder_and_the_association(
    world,  # noqa: F811
    manager,
):
    from cpo import documents

    application = _cofunded(world, manager, separate=("commune",))
    joint = cpo_services.agreement_create_from_application(
        actor=manager, application=application, profile="flat", duration_years=1, first_year=2026
    )
    own = Agreement.objects.get(application=application, funder=world["commune"])
    text = documents.render_agreement(own).text
    assert "Ville d'Aix" in text and own.reference in text
    assert documents.euros(Decimal("15000")) in text
    assert "État — ANCT" not in text
    assert "Ville d'Aix" not in documents.render_agreement(joint).text
