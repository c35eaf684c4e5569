"""Reads for direct awards (hors appel) and multi-year support: the lists, the programme's envelope
figures, and the share of associations supported over several years (docs/domain.md §2, §7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from calls.models import Programme
from core.models import User

from ..models import Application, ApplicationKind, ApplicationState
from ..selectors import applications_visible_to, approved_total_for_programme

S = ApplicationState


def direct_awards_visible_to(
    user: User, *, programme: Programme | None = None
) -> QuerySet[Application]:
    """Direct awards the user may see (their staff scope), newest first, with what the list shows."""
    qs = applications_visible_to(user).filter(kind=ApplicationKind.DIRECT_AWARD)
    if programme is not None:
        qs = qs.filter(programme=programme)
    return qs.select_related("organisation", "programme", "decided_by", "created_by").order_by(
        "-submitted_at", "-id"
    )


def programme_envelope(programme: Programme) -> dict[str, Decimal]:
    """The programme's envelope, what is approved so far in it (every mode), and what remains."""
    approved = approved_total_for_programme(programme.pk)
    return {
        "envelope": programme.envelope,
        "approved": approved,
        "remaining": programme.envelope - approved,
    }


def direct_awards_by_programme(
    user: User, *, programme: Programme | None = None
) -> list[dict[str, Any]]:
    """Per programme holding visible direct awards (or the one asked for): pending and decided awards
    and the envelope figures."""
    awards = list(direct_awards_visible_to(user, programme=programme))
    programmes = {a.programme_id: a.programme for a in awards}
    if programme is not None:
        programmes.setdefault(programme.pk, programme)
    sections = []
    for prog in sorted(programmes.values(), key=lambda p: (-p.fiscal_year, p.name)):
        mine = [a for a in awards if a.programme_id == prog.pk]
        pending = [a for a in mine if a.state == S.SUBMITTED]
        decided = [a for a in mine if a.state != S.SUBMITTED]
        sections.append(
            {
                "programme": prog,
                "pending": pending,
                "decided": decided,
                "pending_total": sum((a.requested_amount for a in pending), Decimal("0")),
                "awarded_total": sum(
                    (a.approved_amount or Decimal("0") for a in decided if a.state == S.APPROVED),
                    Decimal("0"),
                ),
                **programme_envelope(prog),
            }
        )
    return sections


def multi_year_share(programme: Programme) -> dict[str, Any]:
    """Share of supported associations that have multi-year security in a programme: organisations
    with at least one approved multi-year file over organisations with at least one approved file."""
    rows = Application.objects.filter(programme=programme, state=S.APPROVED).aggregate(
        supported=Count("organisation", distinct=True),
        multi_year=Count("organisation", distinct=True, filter=Q(is_multi_year=True)),
    )
    supported, multi = rows["supported"] or 0, rows["multi_year"] or 0
    return {
        "supported": supported,
        "multi_year": multi,
        "share": (Decimal(multi) / Decimal(supported) * 100).quantize(Decimal("0.1"))
        if supported
        else None,
    }


def multi_year_files(user: User, programme: Programme) -> QuerySet[Application]:
    """The approved multi-year files of a programme the user may see, with their years."""
    return (
        applications_visible_to(user)
        .filter(programme=programme, state=S.APPROVED, is_multi_year=True)
        .select_related("organisation", "call")
        .prefetch_related("years")
        .order_by("organisation__name", "id")
    )
