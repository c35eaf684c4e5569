"""factory_boy factories shared by every test (exposed as fixtures in conftest.py)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from calls.models import Call, CallMode, CallState, Programme, ScoringCriterion
from core.models import (
    QPV,
    BudgetLine,
    Funder,
    Membership,
    Organisation,
    Pillar,
    RoleAssignment,
    TransitionTheme,
    User,
)
from grants.models import Application, ApplicationState, BudgetItem, Objective

# Valid SIRETs (Luhn) generated from a SIREN prefix: see siret_for().


def luhn_complete(body: str) -> str:
    """Append the Luhn check digit to `body`."""
    for d in "0123456789":
        candidate = body + d
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            n = int(ch)
            if i % 2 == 1:
                n *= 2
                if n > 9:
                    n -= 9
            total += n
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def siret_for(n: int) -> str:
    """A valid SIRET: its SIREN passes Luhn, and so do all 14 digits."""
    siren = luhn_complete(f"{(40000000 + n) % 100000000:08d}")
    return luhn_complete(f"{siren}{n % 10000:04d}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    password = factory.django.Password("secret-pass-123")
    email_verified_at = factory.LazyFunction(timezone.now)


class FunderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Funder
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Financeur {n}")
    kind = Funder.Kind.MUNICIPALITY


class QPVFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QPV
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"QN{13000 + n:05d}M")
    name = factory.Sequence(lambda n: f"Quartier {n}")
    commune_insee = "13055"
    commune_name = "Marseille"


class PillarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pillar
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"pillar-{n}")
    label = factory.Sequence(lambda n: f"Pilier {n}")


class ThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TransitionTheme
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"theme-{n}")
    label = factory.Sequence(lambda n: f"Thème {n}")


class BudgetLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BudgetLine
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"BL{n:03d}")
    label = "Politique de la ville"
    funder = factory.SubFactory(FunderFactory)


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Association {n}")
    siret = factory.Sequence(lambda n: siret_for(n + 1))
    legal_form = Organisation.LegalForm.ASSOCIATION
    email = factory.Sequence(lambda n: f"contact{n}@asso.example.org")
    city = "Marseille"
    postcode = "13003"
    commune_insee = "13055"
    iban = "FR7630006000011234567890189"
    bic = "AGRIFRPP"


def add_member(user: User, organisation: Organisation, *, is_admin: bool = True) -> Membership:
    return Membership.objects.get_or_create(
        user=user, organisation=organisation, defaults={"is_admin": is_admin}
    )[0]


def give_role(user: User, role: str, **kwargs) -> RoleAssignment:
    territories = kwargs.pop("territories", None)
    assignment, _ = RoleAssignment.objects.get_or_create(user=user, role=role, defaults=kwargs)
    if territories:
        assignment.territories.set(territories)
    for attr in ("_pluriel_roles", "_pluriel_orgs"):
        if hasattr(user, attr):
            delattr(user, attr)
    return assignment


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Contrat de ville {n}")
    fiscal_year = 2026
    envelope = Decimal("500000.00")
    budget_line = factory.SubFactory(BudgetLineFactory)

    @factory.post_generation
    def funders(self, create, extracted, **kwargs):
        if create:
            self.funders.set(extracted or [self.budget_line.funder])


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    programme = factory.SubFactory(ProgrammeFactory)
    mode = CallMode.PROJECT_CALL
    title = factory.Sequence(lambda n: f"Appel à projets {n}")
    opens_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=10))
    closes_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))
    envelope = Decimal("200000.00")
    max_amount = Decimal("50000.00")
    max_share_percent = Decimal("80")
    state = CallState.OPEN


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringCriterion

    call = factory.SubFactory(CallFactory)
    label = factory.Sequence(lambda n: f"Critère {n}")
    max_score = 5


class ApplicationFactory(factory.django.DjangoModelFactory):
    """A complete, balanced draft in an open call; pass state= to place it elsewhere."""

    class Meta:
        model = Application
        skip_postgeneration_save = True

    reference = factory.Sequence(lambda n: f"AAP-2026-{n + 1:04d}")
    call = factory.SubFactory(CallFactory)
    programme = factory.LazyAttribute(lambda o: o.call.programme)
    organisation = factory.SubFactory(OrganisationFactory)
    title = factory.Sequence(lambda n: f"Projet {n}")
    summary = "Ateliers de soutien scolaire au pied des immeubles."
    start_date = datetime.date(2026, 1, 1)
    end_date = datetime.date(2026, 12, 31)
    pillar = factory.SubFactory(PillarFactory)
    requested_amount = Decimal("10000.00")
    state = ApplicationState.DRAFT

    @factory.post_generation
    def complete(self, create, extracted, **kwargs):
        """Budget balanced (charges 20 000 = products 20 000, 74 holds the request), a QPV, an objective."""
        if not create or extracted is False:
            return
        self.qpvs.add(QPVFactory())
        Objective.objects.create(application=self, text="Réduire le décrochage scolaire")
        BudgetItem.objects.bulk_create(
            [
                BudgetItem(
                    application=self, account="60", label="Fournitures", amount=Decimal("5000.00")
                ),
                BudgetItem(
                    application=self, account="64", label="Salaires", amount=Decimal("15000.00")
                ),
                BudgetItem(
                    application=self,
                    account="74",
                    subsidy_source="municipality",
                    label="Ville",
                    amount=self.requested_amount,
                ),
                BudgetItem(
                    application=self,
                    account="75",
                    label="Cotisations",
                    amount=Decimal("20000.00") - self.requested_amount,
                ),
            ]
        )


# --------------------------------------------------------------------------- other call modes


def anti_call(**kwargs):
    kwargs.setdefault("title", "Anti-appel à projets")
    return CallFactory(mode=CallMode.ANTI_CALL, **kwargs)


def solutions_call(**kwargs):
    kwargs.setdefault("title", "Appel à solutions")
    return CallFactory(mode=CallMode.SOLUTIONS_CALL, **kwargs)


def published_need(call=None, **kwargs):
    from calls.models import Need

    call = call or anti_call()
    return Need.objects.create(
        call=call,
        qpv=kwargs.pop("qpv", None) or QPVFactory(),
        title=kwargs.pop("title", "Pas de lieu d'accueil pour les jeunes le soir"),
        description="Les 16-25 ans n'ont aucun lieu ouvert après 19 h.",
        raised_by="Conseil citoyen",
        state=Need.State.PUBLISHED,
        **kwargs,
    )


# --------------------------------------------------------------------------- agreements (CPO)


def cpo_awaiting_evaluation(
    *, instructor: User, organisation: Organisation | None = None, call=None
):
    """An active 3-year CPO (30 000 € a year, advance + balance) that started last year, signed
    on 15 January of its first year: last year's instalments and this year's advance are due,
    this year's balance is on hold until last year's evaluation is accepted. Dates are relative to
    core.clock.today(), so it holds whatever the day the tests run. Returns the agreement."""
    from core.clock import today
    from cpo import services as cpo_services
    from grants.models import Indicator

    first_year = today().year - 1
    application = ApplicationFactory(
        organisation=organisation or OrganisationFactory(),
        requested_amount=Decimal("90000.00"),
        complete=False,
        **({"call": call} if call is not None else {}),
    )
    BudgetItem.objects.bulk_create(
        [
            BudgetItem(application=application, account=account, label=label, amount=amount)
            for account, label, amount in [
                ("60", "Fournitures", Decimal("20000.00")),
                ("64", "Salaires", Decimal("70000.00")),
                ("74", "Ville", Decimal("90000.00")),
            ]
        ]
    )
    Indicator.objects.create(
        application=application, label="Jeunes accompagnés", unit="jeunes", target=Decimal("40")
    )
    Application.objects.filter(pk=application.pk).update(
        state=ApplicationState.APPROVED, approved_amount=Decimal("90000.00")
    )
    application = Application.objects.get(pk=application.pk)
    agreement = cpo_services.agreement_create_from_application(
        actor=instructor,
        application=application,
        profile="flat",
        duration_years=3,
        first_year=first_year,
    )
    # The funder's legal commitment number (EJ), which the payment file carries (issue 16: an
    # export without one asks for confirmation).
    agreement.funders.update(ej_number="2100000001")
    cpo_services.agreement_sign(
        actor=instructor, agreement=agreement, signed_on=datetime.date(first_year, 1, 15)
    )
    cpo_services.instalments_refresh(day=today(), agreement_ids=[agreement.pk])
    return type(agreement).objects.get(pk=agreement.pk)


def open_session_for(*applications, chair, present=()):
    """An open committee session of today, chaired by `chair` (present, with `present`), holding
    `applications` on its agenda: the only place a committee decision is recorded (issue #16)."""
    from core.clock import today
    from grants import services
    from grants.models import Application, CommitteeSession

    session = CommitteeSession.objects.create(
        programme_id=applications[0].programme_id, title="Comité du jour", date=today(), chair=chair
    )
    Application.objects.filter(pk__in=[a.pk for a in applications]).update(
        committee_session=session
    )
    for application in applications:
        application.committee_session_id = session.pk
    return services.committee_session_open(
        actor=chair, session=session, chair=chair, present=[chair, *present]
    )
