"""core.compiled_reads: a values() queryset compiled once, run again with other keys, returns
what the queryset itself returns (types converted as Django converts them: decimals, dates and
times on SQLite). Run on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from core.compiled_reads import CompiledRead
from core.models import QPV
from grants.models import ApplicationAttachment, ApplicationYear, Indicator, Objective

from .. import factories as f


def _indicators(pk):
    return Indicator.objects.filter(application_id=pk).values("label", "target", "unit")


def _attachments(pk):
    return ApplicationAttachment.objects.filter(application_id=pk).values(
        "pk", "title", "uploaded_at"
    )


def _years(pk):
    return (
        ApplicationYear.objects.filter(application_id=pk)
        .order_by("fiscal_year")
        .values("fiscal_year", "requested_amount", "approved_amount")
    )


def _qpvs(pk):
    return QPV.objects.filter(applications=pk).values("name", "code")


@pytest.mark.django_db
def test_rows_are_those_of_the_queryset_for_every_key():
    first, second, empty = (f.ApplicationFactory() for _ in range(3))
    for app, n in ((first, 2), (second, 3)):
        for i in range(n):
            Indicator.objects.create(
                application=app, label=f"Indicateur {i}", target=Decimal(f"{i}.25"), unit="pers."
            )
            ApplicationYear.objects.create(
                application=app,
                fiscal_year=2030 - i,
                requested_amount=Decimal("1000.10"),
                approved_amount=Decimal("900.00") if i else None,
            )
            ApplicationAttachment.objects.create(
                application=app, title=f"Pièce {i}", file=ContentFile(b"x", name="x.pdf")
            )
        app.qpvs.add(f.QPVFactory())
    Objective.objects.create(application=second, text="Un second objectif")
    for build in (_indicators, _attachments, _years, _qpvs):
        read = CompiledRead(build)
        for app in (first, second, empty, first):
            assert read(app.pk) == list(build(app.pk)), build.__name__
    indicator = CompiledRead(_indicators)(second.pk)[1]
    assert indicator["target"] == Decimal("1.25") and isinstance(indicator["target"], Decimal)
    attachment = CompiledRead(_attachments)(first.pk)[0]
    assert (
        attachment["uploaded_at"]
        == ApplicationAttachment.objects.get(pk=attachment["pk"]).uploaded_at
    )


def test_the_key_must_be_one_parameter():
    with pytest.raises(ValueError):
        CompiledRead(lambda pk: Objective.objects.values("text"))._compile("default")
