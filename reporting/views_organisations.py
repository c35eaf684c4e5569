"""The search of organisations (staff) and the « contrat global » of one organisation: its funding
across programmes and funders on one page (docs/domain.md §7). Read-only; who sees what is decided in
reporting.selectors_organisations (anything out of scope is a 404)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.permissions import can_see_bank_details
from core.services import mask_iban

from .selectors_organisations import (
    counts_for_page,
    global_contract,
    is_page_staff,
    organisation_for_page,
    organisations_in_staff_scope,
    search_organisations,
    sees_every_organisation,
)

PAGE_SIZE = 50


@login_required
def organisation_search(request: HttpRequest) -> HttpResponse:
    """Staff: organisations of their scope by name, SIRET or RNA, 50 a page."""
    if not is_page_staff(request.user):
        raise Http404
    text = (request.GET.get("q") or "").strip()
    qs = search_organisations(organisations_in_staff_scope(request.user), text).order_by(
        "name", "pk"
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    organisations = list(page.object_list)
    counts = counts_for_page(request.user, [o.pk for o in organisations])
    rows = [{"organisation": o, **counts[o.pk]} for o in organisations]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "reporting/organisation_search.html",
        {
            "q": text,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
            "partial": not sees_every_organisation(request.user),
        },
    )


@login_required
def organisation_global(request: HttpRequest, pk: int) -> HttpResponse:
    """One organisation's applications, agreements, money, payments, evaluations, documents and
    history. Staff of its scope and its own members; 404 for anyone else."""
    found = organisation_for_page(request.user, pk)
    if found is None:
        raise Http404
    organisation, staff = found
    context = global_contract(request.user, organisation, staff=staff)
    can_see_bank = can_see_bank_details(request.user, organisation)
    context.update(
        {
            "organisation": organisation,
            "staff_view": staff,
            "can_see_bank": can_see_bank,
            "masked_iban": mask_iban(organisation.iban) if can_see_bank else "",
            "bic": organisation.bic if can_see_bank else "",
        }
    )
    return render(request, "reporting/organisation_global.html", context)
