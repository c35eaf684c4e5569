"""The COPY path of the imports on PostgreSQL: ids reserved from the sequences, so rows created
afterwards the usual way never collide, and the whole import is one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import Organisation
from cpo.models import Agreement, AgreementFunder, AgreementYear
from reporting.imports.services import import_apply, import_check
from reporting.models import Commune, ImportState
from tests import factories as f

pytestmark = pytest.mark.postgres
DATA = Path(__file__).parent / "data" / "scdl"


def test_grants_copied_then_ordinary_inserts_follow(manager):
    f.OrganisationFactory(rna="W322216459")
    content = (DATA / "exemple_valide.csv").read_bytes()
    batch = import_check(actor=manager, kind="grants", file=SimpleUploadedFile("v.csv", content))
    batch = import_apply(actor=manager, batch=batch)
    assert batch.state == ImportState.APPLIED
    assert Agreement.objects.count() == AgreementFunder.objects.count() == 29
    assert AgreementYear.objects.count() == 29
    highest = max(Organisation.objects.values_list("pk", flat=True))
    assert f.OrganisationFactory().pk > highest  # the sequence moved past the COPied ids
    assert set(Agreement.objects.values_list("years__agreement_id", flat=True)) == set(
        Agreement.objects.values_list("pk", flat=True)
    )


def test_communes_copied(manager):
    content = b"code insee;nom\n13055;Marseille\n2A004;Ajaccio\n"
    batch = import_check(actor=manager, kind="communes", file=SimpleUploadedFile("c.csv", content))
    import_apply(actor=manager, batch=batch)
    assert Commune.objects.count() == 2
    assert Commune.objects.create(code="69123", name="Lyon", departement="69").pk > max(
        Commune.objects.exclude(code="69123").values_list("pk", flat=True)
    )
