"""Funder shares are typed in percent: the error speaks in percent too, in both languages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from core.errors import DomainError
from cpo import services
from cpo import services_changes as changes

from .test_changes import D, approved, at, make_cpo


@pytest.fixture(autouse=True)
def _march_2026():
    with at(D(2026, 3, 1)):
        yield


def test_amendment_shares_error_speaks_in_percent(instructor):
    cpo = make_cpo(instructor)
    funder = cpo.funders.get().funder
    for language, expected in [
        ("fr", "Les parts des financeurs doivent totaliser 100 % (ici 90 %)."),
        ("en", "The funders' shares must total 100 % (here 90 %)."),
    ]:
        with translation.override(language), pytest.raises(DomainError) as error:
            changes.amendment_create(
                actor=instructor,
                agreement=cpo,
                reason="x",
                effective_on=D(2026, 3, 1),
                funders=[{"funder": funder, "share": Decimal("0.9")}],
            )
        assert str(error.value.message) == expected
        assert "totaliser 1." not in str(error.value.message)


def test_creation_shares_error_speaks_in_percent(instructor):
    application = approved("90000.00")
    funder = application.programme.funders.first()
    with translation.override("fr"), pytest.raises(DomainError) as error:
        services.agreement_create_from_application(
            actor=instructor,
            application=application,
            profile="flat",
            duration_years=3,
            first_year=2026,
            funders=[{"funder": funder, "share": Decimal("0.625")}],
        )
    assert error.value.field == "funders"
    assert "100 %" in str(error.value.message) and "(ici 62,5 %)" in str(error.value.message)
