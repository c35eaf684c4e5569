"""Schedule arithmetic for multi-year agreements (CPO): pure functions, no database.

A CPO (convention pluriannuelle d'objectifs, circulaire n° 5811/SG of 29 September 2015) runs over
1 to 5 fiscal years (the model recommends at most 4). This module computes:

- the yearly amounts of a profile (`yearly_amounts`);
- the instalments of one fiscal year (`instalment_plan`);
- the split of one year between co-funders (`split_between_funders`);
- the effect of an agreement on the envelopes of the coming years (`future_years_effect`).

Rounding rule (also in docs/decisions/2026-11-25-yearly-amounts-rounding.md). Amounts are `Decimal`
multiples of a `unit`: a whole euro (`Decimal("1")`, the default for yearly amounts) or a cent
(`Decimal("0.01")`, the default for instalments). Money is never a float.

1. From the first year's amount: each year is computed from the UNROUNDED value of the profile
   (first × (1 ± rate)^k, or first ± k × step) and rounded half up to the unit, year by year.
   Rounding errors never accumulate from one year to the next; the total is whatever the rounded
   years add up to.
2. From a total: the total (a multiple of the unit) is split with `core.money.split_exact` on the
   profile's weights — flat 1, 1, …; rate (1 ± rate)^k; step first ± k × step — so the years ALWAYS
   add up to the total exactly. Each year is floored to the unit and the units left over go to the
   years with the largest remainders; on a tie (flat and step profiles, where every remainder is the
   same) they go to the EARLIEST years: the association gets the money sooner, and it is the one
   tie rule of `split_exact`, so every printed schedule shows the same figures.
3. Instalments of one year: an advance (the first instalment of a plan with several) is FLOORED to
   the unit, so it never exceeds the share asked nor the cap; the rest is split over the later
   instalments by largest remainder with ties to the LATEST ones. What is paid before the checks
   is never more than its share; the odd cents wait for the instalment gated by the evaluation.
   The instalments always add up to the year exactly.
4. Co-funders: `split_exact` on the shares, ties to the first funder listed.

Every invalid input raises `DomainError` with a French message and the name of the field at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Any, Literal, cast

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.money import CENT, split_exact, to_money

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

EURO = Decimal("1")
UNITS = (EURO, CENT)
RECOMMENDED_MAX_YEARS = 4  # model agreement of the circulaire of 29 September 2015
MAX_YEARS = 5  # the study mentions 3 to 5 years
ADVANCE_CAP_PERCENT = Decimal("50")  # circulaire 2015: the advance is at most 50 % of the year
MAX_CUSTOM_INSTALMENTS = 12
HUNDRED = Decimal("100")

PROFILES = (
    "flat",
    "progressive_rate",
    "degressive_rate",
    "progressive_step",
    "degressive_step",
    "custom",
)
TEMPLATES = ("at_signature", "advance_balance", "advance_interim_balance", "quarterly", "custom")
QUARTER_STARTS = ((1, 1), (4, 1), (7, 1), (10, 1))
FIRST_YEAR_BALANCE_DATE = (7, 1)  # no previous evaluation to wait for: the balance waits for July

InstalmentKind = Literal["single", "advance", "interim", "balance", "quarter", "custom"]


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _eur(amount: Decimal) -> str:
    """French display of an amount for messages: 12 000,50 €."""
    text = f"{to_money(amount):,.2f}".replace(",", "\u202f").replace(".", ",")
    return f"{text} €"


def _unit_words(unit: Decimal) -> StrPromise:
    return _("en euros entiers") if unit == EURO else _("au centime près")


def _check_unit(unit: Any) -> Decimal:
    if not isinstance(unit, Decimal) or unit not in UNITS:
        raise DomainError(
            _("L'unité d'arrondi doit être l'euro (1) ou le centime (0,01)."), field="unit"
        )
    return unit


def _decimal(value: Any, field: str, label: str | StrPromise) -> Decimal:
    """A finite Decimal (an int is accepted); floats are refused, they are not exact."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise DomainError(
            _("%(label)s doit être un nombre décimal exact.") % {"label": label}, field=field
        )
    value = Decimal(value)
    if not value.is_finite():
        raise DomainError(_("%(label)s doit être un nombre fini.") % {"label": label}, field=field)
    return cast(Decimal, value)


def _amount(value: Any, field: str, label: str | StrPromise, unit: Decimal) -> Decimal:
    """A strictly positive amount, multiple of the unit."""
    value = _decimal(value, field, label)
    if value <= 0:
        raise DomainError(
            _("%(label)s doit être strictement positif.") % {"label": label}, field=field
        )
    if value % unit != 0:
        raise DomainError(
            _("%(label)s doit être exprimé %(unit)s (%(amount)s reçu).")
            % {"label": label, "unit": _unit_words(unit), "amount": value},
            field=field,
        )
    return to_money(value)


def _refuse_unused(profile: str, **params: Any) -> None:
    for field, value in params.items():
        if value is not None:
            raise DomainError(
                _("Le paramètre « %(field)s » ne s'applique pas au profil « %(profile)s ».")
                % {"field": field, "profile": profile},
                field=field,
            )


def _round(value: Decimal, unit: Decimal) -> Decimal:
    return to_money(value.quantize(unit, rounding=ROUND_HALF_UP))


def _floor(value: Decimal, unit: Decimal) -> Decimal:
    return to_money(value.quantize(unit, rounding=ROUND_FLOOR))


# --------------------------------------------------------------------------------------------
# 1. Yearly amounts
# --------------------------------------------------------------------------------------------


def yearly_amounts(
    *,
    profile: str,
    years: int,
    total: Decimal | None = None,
    first_year_amount: Decimal | None = None,
    rate: Decimal | None = None,
    step: Decimal | None = None,
    custom: list[Decimal] | None = None,
    unit: Decimal = EURO,
) -> list[Decimal]:
    """Amount of each fiscal year of an agreement, following a profile.

    Profiles: `flat`, `progressive_rate` / `degressive_rate` (each year = previous × (1 ± rate),
    `rate` a fraction: 0.05 for 5 %), `progressive_step` / `degressive_step` (each year = previous
    ± `step`), `custom` (one amount per year). Every profile but `custom` takes EITHER
    `first_year_amount` (years rounded half up to the unit, one by one, from the unrounded value)
    OR `total` (split exactly with the profile's shape: the years add up to the total).
    1 to `MAX_YEARS` years; above `RECOMMENDED_MAX_YEARS` the caller warns (circulaire 2015).
    """
    unit = _check_unit(unit)
    if profile not in PROFILES:
        raise DomainError(
            _("Profil inconnu : « %(profile)s ». Profils possibles : %(choices)s.")
            % {"profile": profile, "choices": ", ".join(PROFILES)},
            field="profile",
        )
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
        raise DomainError(
            _(
                "La durée doit être comprise entre 1 et %(max)s ans (%(recommended)s au plus sont recommandés)."
            )
            % {"max": MAX_YEARS, "recommended": RECOMMENDED_MAX_YEARS},
            field="years",
        )

    if profile == "custom":
        _refuse_unused(profile, first_year_amount=first_year_amount, rate=rate, step=step)
        return _custom_years(years, custom, total, unit)
    _refuse_unused(profile, custom=custom)

    if total is None and first_year_amount is None:
        raise DomainError(
            _("Indiquez le montant de la première année ou le montant total."), field="total"
        )
    if total is not None and first_year_amount is not None:
        raise DomainError(
            _(
                "Indiquez soit le montant de la première année, soit le montant total, pas les deux."
            ),
            field="first_year_amount",
        )

    direction = 0
    if profile == "flat":
        _refuse_unused(profile, rate=rate, step=step)
    elif profile.endswith("_rate"):
        _refuse_unused(profile, step=step)
        direction = 1 if profile.startswith("progressive") else -1
        rate = _check_rate(rate, direction)
    else:
        _refuse_unused(profile, rate=rate)
        direction = 1 if profile.startswith("progressive") else -1
        step = _check_step(step, direction, unit)

    if first_year_amount is not None:
        first = _amount(
            first_year_amount, "first_year_amount", _("Le montant de la première année"), unit
        )
        if rate is not None:
            return _rate_from_first(first, years, rate, direction, unit)
        if step is not None:
            return _step_from_first(first, years, step, direction)
        return [first] * years

    total = _amount(total, "total", _("Le montant total"), unit)
    if rate is not None:
        factor = 1 + direction * rate
        weights = [factor**k for k in range(years)]
    elif step is not None:
        # Exact weights: n × (first + k × step) with first = (total − step × n(n−1)/2) / n.
        base = total - direction * step * years * (years - 1) / 2
        weights = [base + direction * years * k * step for k in range(years)]
        smallest = min(weights)
        if smallest <= 0:
            where = 1 if direction > 0 else years
            raise DomainError(
                _(
                    "Avec ce pas, le montant de l'année %(year)s serait nul ou négatif (%(amount)s) ; réduisez le pas ou augmentez le total."
                )
                % {"year": where, "amount": _eur(smallest / years)},
                field="step",
            )
    else:
        weights = [Decimal(1)] * years
    amounts = split_exact(total, weights, unit=unit)
    if min(amounts) <= 0:
        raise DomainError(
            _("Le montant total est trop faible pour donner au moins %(unit)s à chaque année.")
            % {"unit": _eur(unit)},
            field="total",
        )
    return amounts


def _check_rate(rate: Any, direction: int) -> Decimal:
    if rate is None:
        raise DomainError(
            _("Le taux d'évolution annuel est obligatoire pour ce profil."), field="rate"
        )
    rate = _decimal(rate, "rate", _("Le taux"))
    if direction < 0:
        if rate < 0:
            raise DomainError(
                _(
                    "Le taux d'un profil dégressif doit être positif : un taux négatif ferait augmenter les montants."
                ),
                field="rate",
            )
        if rate >= 1:
            raise DomainError(
                _(
                    "Le taux d'un profil dégressif doit être inférieur à 1 (100 %) : au-delà, les montants deviendraient nuls ou négatifs."
                ),
                field="rate",
            )
    elif rate < 0:
        raise DomainError(
            _(
                "Le taux d'un profil progressif doit être positif : un taux négatif ferait baisser les montants."
            ),
            field="rate",
        )
    if rate == 0:
        raise DomainError(
            _(
                "Le taux doit être strictement positif ; pour des montants égaux, choisissez le profil constant."
            ),
            field="rate",
        )
    return cast(Decimal, rate)


def _check_step(step: Any, direction: int, unit: Decimal) -> Decimal:
    if step is None:
        raise DomainError(_("Le pas annuel est obligatoire pour ce profil."), field="step")
    step = _decimal(step, "step", _("Le pas annuel"))
    if step < 0:
        message = (
            _(
                "Le pas d'un profil progressif doit être positif : un pas négatif ferait baisser les montants."
            )
            if direction > 0
            else _(
                "Le pas d'un profil dégressif doit être positif : un pas négatif ferait augmenter les montants."
            )
        )
        raise DomainError(message, field="step")
    if step == 0:
        raise DomainError(
            _(
                "Le pas doit être strictement positif ; pour des montants égaux, choisissez le profil constant."
            ),
            field="step",
        )
    if step % unit != 0:
        raise DomainError(
            _("Le pas annuel doit être exprimé %(unit)s.") % {"unit": _unit_words(unit)},
            field="step",
        )
    return cast(Decimal, step)


def _rate_from_first(
    first: Decimal, years: int, rate: Decimal, direction: int, unit: Decimal
) -> list[Decimal]:
    factor = 1 + direction * rate
    with localcontext() as ctx:
        ctx.prec = 50  # (1 ± rate)^k computed well beyond a cent before rounding
        amounts = [_round(first * factor**k, unit) for k in range(years)]
    for year, amount in enumerate(amounts, start=1):
        if amount <= 0:
            raise DomainError(
                _("Avec ce taux, le montant de l'année %(year)s serait nul ; réduisez le taux.")
                % {"year": year},
                field="rate",
            )
    return amounts


def _step_from_first(first: Decimal, years: int, step: Decimal, direction: int) -> list[Decimal]:
    amounts = [to_money(first + direction * k * step) for k in range(years)]
    for year, amount in enumerate(amounts, start=1):
        if amount <= 0:
            raise DomainError(
                _(
                    "Avec ce pas, le montant de l'année %(year)s serait nul ou négatif (%(amount)s) ; réduisez le pas."
                )
                % {"year": year, "amount": _eur(amount)},
                field="step",
            )
    return amounts


def _custom_years(
    years: int, custom: list[Decimal] | None, total: Decimal | None, unit: Decimal
) -> list[Decimal]:
    if custom is None:
        raise DomainError(
            _("Indiquez le montant de chaque année pour un profil personnalisé."), field="custom"
        )
    if len(custom) != years:
        raise DomainError(
            _("Indiquez un montant pour chacune des %(years)s années (%(count)s donnés).")
            % {"years": years, "count": len(custom)},
            field="custom",
        )
    amounts = [
        _amount(value, "custom", _("Le montant de l'année %(year)s") % {"year": year}, unit)
        for year, value in enumerate(custom, start=1)
    ]
    if total is not None:
        total = _amount(total, "total", _("Le montant total"), unit)
        if sum(amounts) != total:
            raise DomainError(
                _("Les montants annuels totalisent %(sum)s au lieu de %(total)s.")
                % {"sum": _eur(cast(Decimal, sum(amounts))), "total": _eur(total)},
                field="custom",
            )
    return amounts


# --------------------------------------------------------------------------------------------
# 2. Instalment plans
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedInstalment:
    """One planned payment of a fiscal year and what must hold before it is released."""

    number: int
    kind: InstalmentKind
    amount: Decimal
    earliest_date: date
    requires_signature: bool
    requires_evaluation_of: int | None  # fiscal year whose evaluation must be accepted first
    requires_valid_documents: bool


def instalment_plan(
    *,
    year_amount: Decimal,
    template: str,
    fiscal_year: int,
    advance_percent: Decimal = ADVANCE_CAP_PERCENT,
    advance_cap_percent: Decimal = ADVANCE_CAP_PERCENT,
    interim_percent: Decimal = Decimal("30"),
    custom: list[tuple[Decimal, date | None]] | None = None,
    custom_as: Literal["amount", "percent"] = "amount",
    unit: Decimal = CENT,
    signature_date: date | None = None,
    first_year: bool = False,
) -> list[PlannedInstalment]:
    """Instalments of one fiscal year; they add up to `year_amount` exactly.

    Templates: `at_signature` (the whole year at signature), `advance_balance` (an advance early in
    the year — the State aims at before 31 March — at most `advance_cap_percent`, 50 % by default
    per the circulaire of 2015, then the balance), `advance_interim_balance` (avance, acompte on
    1 July, solde), `quarterly` (1 Jan, 1 Apr, 1 Jul, 1 Oct),
    `custom` (rows of amount — or percent with `custom_as="percent"` — and optional date).
    Outside the first year of an agreement (`first_year=False`) the last instalment of the year
    waits for the acceptance of the previous fiscal year's evaluation (DOMAIN §4); in the first
    year the `advance_balance` balance waits only for 1 July. Nothing is paid before signature
    nor without valid documents (bank details, SIRET). An earliest date never precedes the
    signature date, and a balance's never precedes the instalment before it (money flows in the
    order the instalments are numbered).
    """
    unit = _check_unit(unit)
    if template not in TEMPLATES:
        raise DomainError(
            _("Modèle d'échéancier inconnu : « %(template)s ». Modèles possibles : %(choices)s.")
            % {"template": template, "choices": ", ".join(TEMPLATES)},
            field="template",
        )
    if (
        isinstance(fiscal_year, bool)
        or not isinstance(fiscal_year, int)
        or not 2000 <= fiscal_year <= 2200
    ):
        raise DomainError(_("L'exercice doit être une année (ex. 2027)."), field="fiscal_year")
    if not isinstance(first_year, bool):
        raise DomainError(_("« first_year » vaut vrai ou faux."), field="first_year")
    year = _amount(year_amount, "year_amount", _("Le montant de l'année"), unit)
    start = date(fiscal_year, 1, 1)
    if signature_date is not None:
        if not isinstance(signature_date, date):
            raise DomainError(_("La date de signature doit être une date."), field="signature_date")
        if signature_date > date(fiscal_year, 12, 31):
            raise DomainError(
                _(
                    "La convention est signée après la fin de l'exercice %(year)s : aucun versement ne peut y être prévu."
                )
                % {"year": fiscal_year},
                field="signature_date",
            )
    cap = _decimal(advance_cap_percent, "advance_cap_percent", _("Le plafond de l'avance"))
    if not 0 < cap <= HUNDRED:
        raise DomainError(
            _("Le plafond de l'avance doit être compris entre 0 et 100 %."),
            field="advance_cap_percent",
        )

    # (kind, amount, date) rows; the flags are filled in below, the same way for every template.
    rows: list[tuple[InstalmentKind, Decimal, date]]
    if template == "at_signature":
        rows = [("single", year, start)]
    elif template == "advance_balance":
        percent = _decimal(advance_percent, "advance_percent", _("Le pourcentage d'avance"))
        if not 0 < percent < HUNDRED:
            raise DomainError(
                _("Le pourcentage d'avance doit être compris entre 0 et 100 % (exclus)."),
                field="advance_percent",
            )
        _check_cap(percent, cap)
        advance, balance = _instalment_split(
            year, [percent, HUNDRED - percent], unit, "advance_percent"
        )
        balance_date = date(fiscal_year, *FIRST_YEAR_BALANCE_DATE) if first_year else start
        rows = [("advance", advance, start), ("balance", balance, balance_date)]
    elif template == "advance_interim_balance":
        # Avance, acompte, solde: the advance early in the year, an interim payment on 1 July, the
        # balance on 1 October (first year) or once the previous year's evaluation is accepted.
        percent = _decimal(advance_percent, "advance_percent", _("Le pourcentage d'avance"))
        interim = _decimal(interim_percent, "interim_percent", _("Le pourcentage d'acompte"))
        if not (percent > 0 and interim > 0 and percent + interim < HUNDRED):
            raise DomainError(
                _("Avance et acompte doivent être positifs et laisser un solde."),
                field="interim_percent",
            )
        _check_cap(percent, cap)
        advance, middle, balance = _instalment_split(
            year, [percent, interim, HUNDRED - percent - interim], unit, "advance_percent"
        )
        balance_date = date(fiscal_year, 10, 1) if first_year else start
        rows = [
            ("advance", advance, start),
            ("interim", middle, date(fiscal_year, 7, 1)),
            ("balance", balance, balance_date),
        ]
    elif template == "quarterly":
        amounts = _instalment_split(year, [1, 1, 1, 1], unit, "year_amount")
        _check_first_under_cap(amounts[0], year, cap)
        rows = [
            ("quarter", amount, date(fiscal_year, month, day))
            for amount, (month, day) in zip(amounts, QUARTER_STARTS, strict=True)
        ]
    else:
        rows = _custom_rows(year, custom, custom_as, fiscal_year, cap, unit)

    last = len(rows)
    plan: list[PlannedInstalment] = []
    for number, (kind, amount, when) in enumerate(rows, start=1):
        if signature_date is not None and when < signature_date:
            when = signature_date
        if kind == "balance" and plan and when < plan[-1].earliest_date:
            # The balance closes the year: it is never payable before the instalments it follows
            # (issue #16: from the second year it read « from 01/01 », before the 01/07 interim).
            # It still waits for the previous year's evaluation (DOMAIN §4), whichever comes last.
            when = plan[-1].earliest_date
        plan.append(
            PlannedInstalment(
                number=number,
                kind=kind,
                amount=amount,
                earliest_date=when,
                requires_signature=True,
                requires_evaluation_of=None if first_year or number < last else fiscal_year - 1,
                requires_valid_documents=True,
            )
        )
    return plan


def _check_cap(percent: Decimal, cap: Decimal, field: str = "advance_percent") -> None:
    if percent > cap:
        raise DomainError(
            _(
                "L'avance ne peut dépasser %(cap)s %% du montant de l'année (circulaire du 29 septembre 2015) ; %(percent)s %% demandés."
            )
            % {"cap": cap, "percent": percent},
            field=field,
        )


def _check_first_under_cap(
    first: Decimal, year: Decimal, cap: Decimal, field: str = "advance_cap_percent"
) -> None:
    if first * HUNDRED > year * cap:
        raise DomainError(
            _(
                "Le premier versement (%(amount)s) dépasse le plafond de l'avance, %(cap)s %% du montant de l'année."
            )
            % {"amount": _eur(first), "cap": cap},
            field=field,
        )


def _instalment_split(
    year: Decimal, weights: Sequence[Decimal | int], unit: Decimal, field: str
) -> list[Decimal]:
    """Advance floored to the unit; the rest by largest remainder, ties to the latest instalment."""
    weights = [Decimal(w) for w in weights]
    first = _floor(year * weights[0] / sum(weights), unit)
    rest = year - first
    later = weights[1:]
    others = list(reversed(split_exact(rest, list(reversed(later)), unit=unit))) if later else []
    amounts = [first, *others] if later else [year]
    if min(amounts) <= 0:
        raise DomainError(
            _(
                "Le montant de l'année est trop faible pour que chaque versement soit d'au moins %(unit)s."
            )
            % {"unit": _eur(unit)},
            field=field,
        )
    return amounts


def _custom_rows(
    year: Decimal,
    custom: list[tuple[Decimal, date | None]] | None,
    custom_as: str,
    fiscal_year: int,
    cap: Decimal,
    unit: Decimal,
) -> list[tuple[InstalmentKind, Decimal, date]]:
    if not custom:
        raise DomainError(_("Indiquez au moins un versement."), field="custom")
    if len(custom) > MAX_CUSTOM_INSTALMENTS:
        raise DomainError(
            _("Au plus %(max)s versements par exercice.") % {"max": MAX_CUSTOM_INSTALMENTS},
            field="custom",
        )
    if custom_as not in ("amount", "percent"):
        raise DomainError(
            _("Les versements sont donnés en montants (amount) ou en pourcentages (percent)."),
            field="custom_as",
        )
    values = []
    for number, row in enumerate(custom, start=1):
        if not isinstance(row, tuple) or len(row) != 2:
            raise DomainError(
                _("Le versement %(number)s doit être un couple (montant ou pourcentage, date).")
                % {"number": number},
                field="custom",
            )
        label = _("Le versement %(number)s") % {"number": number}
        value = _decimal(row[0], "custom", label)
        if value <= 0:
            raise DomainError(
                _("%(label)s doit être strictement positif.") % {"label": label}, field="custom"
            )
        values.append(value)

    if custom_as == "percent":
        if sum(values) != HUNDRED:
            raise DomainError(
                _("Les pourcentages des versements totalisent %(sum)s %% au lieu de 100 %%.")
                % {"sum": sum(values)},
                field="custom",
            )
        if len(values) > 1:
            _check_cap(values[0], cap, field="custom")
        amounts = _instalment_split(year, values, unit, "custom")
    else:
        amounts = [
            _amount(value, "custom", _("Le versement %(number)s") % {"number": number}, unit)
            for number, value in enumerate(values, start=1)
        ]
        if sum(amounts) != year:
            raise DomainError(
                _("Les versements totalisent %(sum)s au lieu du montant de l'année, %(year)s.")
                % {"sum": _eur(cast(Decimal, sum(amounts))), "year": _eur(year)},
                field="custom",
            )
    if len(amounts) > 1:
        _check_first_under_cap(amounts[0], year, cap, field="custom")

    first_day, last_day = date(fiscal_year, 1, 1), date(fiscal_year, 12, 31)
    rows: list[tuple[InstalmentKind, Decimal, date]] = []
    previous = first_day
    for number, ((_value, when), amount) in enumerate(zip(custom, amounts, strict=True), start=1):
        if when is None:
            when = previous
        elif not isinstance(when, date) or not first_day <= when <= last_day:
            raise DomainError(
                _("La date du versement %(number)s doit tomber dans l'exercice %(year)s.")
                % {"number": number, "year": fiscal_year},
                field="custom",
            )
        elif when < previous:
            raise DomainError(
                _("Les versements doivent être dans l'ordre des dates (versement %(number)s).")
                % {"number": number},
                field="custom",
            )
        kind: InstalmentKind = (
            "single" if len(amounts) == 1 else ("advance" if number == 1 else "custom")
        )
        rows.append((kind, amount, when))
        previous = when
    return rows


# --------------------------------------------------------------------------------------------
# 3. Co-funding
# --------------------------------------------------------------------------------------------


def split_between_funders(
    year_amount: Decimal,
    shares: list[tuple[str, Decimal]],
    unit: Decimal = CENT,
    *,
    shares_as: Literal["fraction", "amount"] = "fraction",
) -> list[tuple[str, Decimal]]:
    """Each co-funder's part of one year, in the order given; the parts add up to the year.

    `shares_as="fraction"`: fractions summing to exactly 1, split by largest remainder (ties to
    the first funder listed). `shares_as="amount"`: amounts summing to exactly the year.
    """
    unit = _check_unit(unit)
    year = _amount(year_amount, "year_amount", _("Le montant de l'année"), unit)
    if shares_as not in ("fraction", "amount"):
        raise DomainError(
            _("Les parts sont données en fractions (fraction) ou en montants (amount)."),
            field="shares_as",
        )
    if not shares:
        raise DomainError(_("Indiquez au moins un financeur."), field="shares")
    names: list[str] = []
    values: list[Decimal] = []
    for row in shares:
        if not isinstance(row, tuple) or len(row) != 2:
            raise DomainError(_("Chaque part est un couple (financeur, part)."), field="shares")
        name, value = row
        if not isinstance(name, str) or not name.strip():
            raise DomainError(_("Chaque part doit nommer son financeur."), field="shares")
        if name in names:
            raise DomainError(
                _("Le financeur « %(name)s » figure deux fois.") % {"name": name}, field="shares"
            )
        label = _("La part de « %(name)s »") % {"name": name}
        if shares_as == "amount":
            value = _amount(value, "shares", label, unit)
        else:
            value = _decimal(value, "shares", label)
            if value <= 0:
                raise DomainError(
                    _("%(label)s doit être strictement positive.") % {"label": label},
                    field="shares",
                )
        names.append(name)
        values.append(value)

    if shares_as == "amount":
        if sum(values) != year:
            raise DomainError(
                _(
                    "Les parts des financeurs totalisent %(sum)s au lieu du montant de l'année, %(year)s."
                )
                % {"sum": _eur(cast(Decimal, sum(values))), "year": _eur(year)},
                field="shares",
            )
        return list(zip(names, values, strict=True))
    if sum(values) != 1:
        raise DomainError(
            _("Les parts des financeurs totalisent %(sum)s au lieu de 1.") % {"sum": sum(values)},
            field="shares",
        )
    parts = split_exact(year, values, unit=unit)
    for name, part in zip(names, parts, strict=True):
        if part <= 0:
            raise DomainError(
                _("La part de « %(name)s » serait nulle une fois arrondie.") % {"name": name},
                field="shares",
            )
    return list(zip(names, parts, strict=True))


# --------------------------------------------------------------------------------------------
# 4. What-if on future envelopes
# --------------------------------------------------------------------------------------------


def future_years_effect(
    *,
    years: dict[int, Decimal],
    envelopes: dict[int, Decimal],
    already_committed: dict[int, Decimal],
) -> list[dict[str, Any]]:
    """What this agreement does to each of its fiscal years' envelopes, before it is signed.

    One row per fiscal year of the agreement, in order: envelope (None when not voted yet),
    committed before, this agreement, committed after, remaining (negative = over the envelope;
    None without an envelope) and `over`.
    """
    if not years:
        raise DomainError(_("Indiquez au moins une année."), field="years")
    checked: list[tuple[str, dict[int, Decimal]]] = [
        ("years", years),
        ("envelopes", envelopes),
        ("already_committed", already_committed),
    ]
    for field, mapping in checked:
        for fiscal_year, value in mapping.items():
            if isinstance(fiscal_year, bool) or not isinstance(fiscal_year, int):
                raise DomainError(_("Les exercices sont des années (ex. 2027)."), field=field)
            if _decimal(value, field, _("Le montant de %(year)s") % {"year": fiscal_year}) < 0:
                raise DomainError(
                    _("Le montant de %(year)s ne peut être négatif.") % {"year": fiscal_year},
                    field=field,
                )
    rows = []
    for fiscal_year in sorted(years):
        envelope = envelopes.get(fiscal_year)
        before = to_money(already_committed.get(fiscal_year, Decimal(0)))
        this = to_money(years[fiscal_year])
        after = before + this
        remaining = None if envelope is None else to_money(envelope) - after
        rows.append(
            {
                "fiscal_year": fiscal_year,
                "envelope": None if envelope is None else to_money(envelope),
                "committed_before": before,
                "this_agreement": this,
                "committed_after": after,
                "remaining": remaining,
                "over": None if remaining is None else remaining < 0,
            }
        )
    return rows
