"""Reads for agreements: who sees which agreement, the list's filters, the timeline of one agreement,
and the preview of an agreement before it is created (yearly amounts, instalments, what-if on the
programme's envelopes). Nothing here writes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, cast

from django.db.models import Prefetch, Q, QuerySet, Sum

from calls.models import Programme
from core.errors import DomainError
from core.models import Role, User
from core.money import split_exact
from core.permissions import has_role, organisation_ids_of
from core.user_facts import user_fact
from grants.models import Application
from grants.selectors import ALL_SEEING_ROLES, applications_visible_to, staff_visibility

from . import schedules
from .models import (
    Agreement,
    AgreementState,
    AgreementYear,
    Amendment,
    Evaluation,
    Instalment,
    Recovery,
)

MANAGERS = (Role.INSTRUCTOR, Role.PROGRAMME_MANAGER)


def agreements_visible_to(user: User) -> QuerySet[Agreement]:
    """The agreements a user may read: those whose application they may read (their organisations'
    files, and the files of their staff scope). Anything else is a 404."""
    if not user.is_authenticated:
        return Agreement.objects.none()
    q = Q(application_id__in=applications_visible_to(user).values("pk"))
    # Imported (historical) agreements have no application: their organisation's members and the
    # staff who see every file read them.
    q |= Q(application__isnull=True, organisation_id__in=organisation_ids_of(user))
    if has_role(user, *ALL_SEEING_ROLES):
        q |= Q(application__isnull=True)
    return Agreement.objects.filter(q).select_related("organisation", "programme", "application")


def has_agreements(user: User) -> bool:
    """Whether « Conventions » belongs in the user's navigation."""
    if not user.is_authenticated:
        return False
    if staff_visibility(user) is not None:
        return True
    return bool(organisation_ids_of(user)) and user_fact(user, "agreements")


def organisations_have_agreements(user: User) -> bool:
    """The fact behind has_agreements (core.user_facts "agreements", cpo/apps.py)."""
    ids = organisation_ids_of(user)
    return bool(ids) and Agreement.objects.filter(organisation_id__in=ids).exists()


def is_agreement_staff(user: User, agreement: Agreement) -> bool:
    """Staff who reach the agreement through their staff scope (not as a member)."""
    staff = staff_visibility(user)
    if staff is None:
        return False
    if agreement.application_id is None:
        return has_role(user, *ALL_SEEING_ROLES)
    return Application.objects.filter(staff, pk=agreement.application_id).exists()


def can_manage(user: User) -> bool:
    """Who runs the agreement's actions (the services check it again)."""
    return has_role(user, *MANAGERS)


def filter_agreements(qs: QuerySet[Agreement], filters: dict[str, Any]) -> QuerySet[Agreement]:
    """State, programme, organisation and free search on the reference or the title."""
    if state := filters.get("state"):
        qs = qs.filter(state=state)
    if programme := filters.get("programme"):
        qs = qs.filter(programme_id=getattr(programme, "pk", programme))
    if organisation := filters.get("organisation"):
        qs = qs.filter(organisation_id=getattr(organisation, "pk", organisation))
    if text := (filters.get("q") or "").strip():
        qs = qs.filter(
            Q(reference__icontains=text)
            | Q(title__icontains=text)
            | Q(organisation__name__icontains=text)
        )
    return qs


def agreement_detail_queryset(qs: QuerySet[Agreement]) -> QuerySet[Agreement]:
    """What the agreement page and the API detail show, in a fixed number of queries."""
    return qs.prefetch_related(
        "funders__funder",
        "years",
        Prefetch(
            "instalments",
            queryset=Instalment.objects.select_related("year", "funder__funder").order_by(
                "year__fiscal_year", "amendment_version", "funder_id", "number"
            ),
        ),
        Prefetch("evaluations", queryset=Evaluation.objects.order_by("fiscal_year")),
        Prefetch("amendments", queryset=Amendment.objects.select_related("author")),
        Prefetch(
            "recoveries",
            queryset=Recovery.objects.select_related("offset_instalment__year", "issued_by"),
        ),
    )


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def amendment_changes(amendment: Amendment) -> list[dict[str, str]]:
    """The before/after of an amendment, one row per key that changed."""
    before, after = amendment.before or {}, amendment.after or {}
    rows = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            rows.append(
                {"key": key, "before": _text(before.get(key)), "after": _text(after.get(key))}
            )
    return rows


def agreement_timeline(agreement: Agreement) -> list[dict[str, Any]]:
    """Year by year: amount, instalments (state, conditions, hold reason, late flag), the
    evaluation of that year and the recoveries issued on it. Expects agreement_detail_queryset."""
    instalments: dict[int, list[Instalment]] = {}
    for instalment in agreement.instalments.all():
        instalments.setdefault(instalment.year.fiscal_year, []).append(instalment)
    evaluations = {e.fiscal_year: e for e in agreement.evaluations.all()}
    recoveries: dict[int, list[Recovery]] = {}
    for recovery in agreement.recoveries.all():
        recoveries.setdefault(recovery.fiscal_year, []).append(recovery)
    return [
        {
            "year": year,
            "fiscal_year": year.fiscal_year,
            "instalments": instalments.get(year.fiscal_year, []),
            "evaluation": evaluations.get(year.fiscal_year),
            "recoveries": recoveries.get(year.fiscal_year, []),
        }
        for year in agreement.years.all()
    ]


def open_instalments(agreement: Agreement) -> QuerySet[Instalment]:
    """Instalments a recovery may be offset against: not cancelled (the service decides the rest)."""
    return (
        Instalment.objects.filter(agreement=agreement)
        .exclude(state="cancelled")
        .select_related("year", "funder__funder")
        .order_by("year__fiscal_year", "number")
    )


# --------------------------------------------------------------------------- preview and what-if


def programme_family(programme: Programme) -> QuerySet[Programme]:
    """The same programme across fiscal years: same name and, when it has funders, a funder in
    common. Its envelopes are the ones an agreement's later years draw on."""
    qs = Programme.objects.filter(name=programme.name)
    funder_ids = list(programme.funders.values_list("pk", flat=True))
    if funder_ids:
        qs = qs.filter(Q(funders__in=funder_ids) | Q(pk=programme.pk)).distinct()
    return qs


def envelope_effect(
    *, programme: Programme, years: dict[int, Decimal], exclude_agreement: Agreement | None = None
) -> list[dict[str, Any]]:
    """schedules.future_years_effect for the programme: the envelope of each fiscal year (the
    programme's own for its year, else the family's programme of that year if voted, else None:
    « enveloppe non votée »), and what other agreements of the family already commit that year
    (terminated agreements left out: their unpaid instalments are cancelled)."""
    family = list(programme_family(programme))
    envelopes: dict[int, Decimal] = {}
    for fiscal_year in years:
        if fiscal_year == programme.fiscal_year:
            envelopes[fiscal_year] = programme.envelope
            continue
        voted = [p.envelope for p in family if p.fiscal_year == fiscal_year]
        if voted:
            envelopes[fiscal_year] = sum(voted, Decimal("0"))
    committed_qs = AgreementYear.objects.filter(
        fiscal_year__in=list(years), agreement__programme__in=[p.pk for p in family]
    ).exclude(agreement__state=AgreementState.TERMINATED)
    if exclude_agreement is not None:
        committed_qs = committed_qs.exclude(agreement=exclude_agreement)
    committed = {
        row["fiscal_year"]: row["total"]
        for row in committed_qs.values("fiscal_year").annotate(total=Sum("amount"))
    }
    return schedules.future_years_effect(
        years=years, envelopes=envelopes, already_committed=committed
    )


def creation_preview(*, application: Application, params: dict[str, Any]) -> dict[str, Any]:
    """What agreement_create_from_application would build with these parameters, without writing:
    the yearly amounts, each year's instalments per funder and the effect on the envelopes.
    Raises the same DomainError as the creation (the lead's cpo.services._spec does the checks)."""
    from . import services

    spec = services.agreement_spec(application, **params)
    first_year = spec["first_year"]
    amounts = spec["amounts"]
    funders = spec["funders"]
    years = []
    for index, amount in enumerate(amounts):
        fiscal_year = first_year + index
        weights = [row.get("granted") for row in funders]
        parts = (
            # A co-funded file: on the amounts granted, as the creation splits them.
            list(enumerate(split_exact(amount, cast(list[Decimal], weights))))
            if all(weights)
            else schedules.split_between_funders(
                amount, [(str(i), Decimal(str(row["share"]))) for i, row in enumerate(funders)]
            )
        )
        rows = []
        for (_key, part), funder in zip(parts, funders, strict=True):
            plan = schedules.instalment_plan(
                year_amount=part,
                template=spec["template"],
                fiscal_year=fiscal_year,
                advance_percent=spec["advance_percent"],
                interim_percent=spec.get("interim_percent", Decimal("30")),
                advance_cap_percent=spec["advance_cap_percent"],
                first_year=index == 0,
            )
            rows += [
                {"funder": funder["funder"], "planned": p, "kind": Instalment.Kind(p.kind).label}
                for p in plan
            ]
        years.append({"fiscal_year": fiscal_year, "amount": amount, "instalments": rows})
    effect = envelope_effect(
        programme=application.programme,
        years={first_year + i: a for i, a in enumerate(amounts)},
    )
    return {
        "kind": spec["kind"],
        "kind_label": Agreement.Kind(spec["kind"]).label,
        "first_year": first_year,
        "duration_years": spec["duration_years"],
        "total": sum(amounts, Decimal("0")),
        "amounts": amounts,
        "years": years,
        "funders": funders,
        "effect": effect,
        "long": spec["duration_years"] > schedules.RECOMMENDED_MAX_YEARS,
    }


def preview_or_error(
    *, application: Application, params: dict[str, Any]
) -> tuple[dict[str, Any] | None, DomainError | None]:
    try:
        return creation_preview(application=application, params=params), None
    except DomainError as exc:
        return None, exc
