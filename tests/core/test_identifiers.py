"""Identifier validators (docs/domain.md §6)."""

import pytest
from django.core.exceptions import ValidationError

from core.identifiers import (
    validate_bic,
    validate_iban,
    validate_insee_code,
    validate_qpv_code,
    validate_rna,
    validate_siret,
)


def _valid(validator, value) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "value", ["73282932000074", "44306184100047", "443 061 841 00047", "35600000000048"]
)
def test_valid_sirets(value):
    assert _valid(validate_siret, value)


@pytest.mark.parametrize(
    "value",
    [
        "12345678901234",  # Luhn key wrong
        "44306184100048",  # one digit off
        "4430618410004",  # 13 digits
        "ABCDEFGHIJKLMN",
        "35600000000014",  # passes Luhn, but La Poste SIRETs follow the digit-sum rule instead
        "",
    ],
)
def test_invalid_sirets(value):
    assert not _valid(validate_siret, value)


def test_la_poste_siret_is_valid_although_luhn_fails():
    from stdnum import luhn

    assert not luhn.is_valid("35600000000001")
    assert _valid(validate_siret, "35600000000001")


def test_siret_message_is_french():
    with pytest.raises(ValidationError) as exc:
        validate_siret("12345678901234")
    assert "n'est pas un SIRET valide" in exc.value.messages[0]


@pytest.mark.parametrize("value", ["W751234567", "W9M1234567", "W2A1000011", ""])
def test_valid_rna_both_forms(value):
    assert _valid(validate_rna, value)


@pytest.mark.parametrize("value", ["W75123456", "X751234567", "W7512345678", "WAB1234567"])
def test_invalid_rna(value):
    assert not _valid(validate_rna, value)


@pytest.mark.parametrize("value", ["QN00101M", "QN97101A", "QP057019", "QP974001"])
def test_valid_qpv_both_lists(value):
    assert _valid(validate_qpv_code, value)


@pytest.mark.parametrize("value", ["QN0010M", "QN001011", "QP05701", "QP05701A", "qn00101m", ""])
def test_invalid_qpv(value):
    assert not _valid(validate_qpv_code, value)


@pytest.mark.parametrize("value", ["13055", "2A004", "2B033", "97411"])
def test_valid_insee(value):
    assert _valid(validate_insee_code, value)


@pytest.mark.parametrize("value", ["1305", "2C004", "130555", "ABCDE"])
def test_invalid_insee(value):
    assert not _valid(validate_insee_code, value)


def test_iban():
    assert _valid(validate_iban, "FR7630006000011234567890189")
    assert _valid(validate_iban, "FR76 3000 6000 0112 3456 7890 189")
    assert not _valid(validate_iban, "FR7630006000011234567890188")
    assert not _valid(validate_iban, "FR76")


def test_bic():
    assert _valid(validate_bic, "AGRIFRPP")
    assert _valid(validate_bic, "BNPAFRPPXXX")
    assert not _valid(validate_bic, "AGRIFRP")
    assert not _valid(validate_bic, "AGRI-FRPP")
