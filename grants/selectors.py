"""Reads for applications: who sees what, queues, eligibility, similar files."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum

from core.clock import now, today
from core.models import Role, User
from core.permissions import has_role, organisation_ids_of, scope_of

from .budget import CHARGE_ACCOUNTS, IN_KIND_CHARGE, IN_KIND_PRODUCT, PRODUCT_ACCOUNTS, SUBSIDIES
from .models import (
    CURRENT_PARTNER_STATES,
    Application,
    ApplicationPartner,
    ApplicationScopeCount,
    ApplicationState,
    ApplicationStateCount,
    BudgetItem,
    CompletionRequest,
    PartnerState,
)
from .selectors_search import search_applications

S = ApplicationState

# Audit actions about internal instruction work: never listed on the applicant's history.
INTERNAL_ACTIONS = {
    "grants.application.note_added",
    "grants.application.scored",
    "grants.application.opinion_given",
    "grants.application.assigned",
    "grants.application.amount_proposed",
    "grants.application.envelope_overridden",
}
ALL_SEEING_ROLES = (Role.PROGRAMME_MANAGER, Role.AUDITOR, Role.FINANCE_OFFICER)


def _scoped_filter(user: User, role: str) -> Q | None:
    scope = scope_of(user, role)
    if scope is None:
        return None
    if scope.everything:
        return Q(pk__isnull=False)
    q = Q(assigned_to=user) | Q(call__instructors=user)
    if scope.territory_ids:
        q |= Q(qpvs__in=scope.territory_ids)
    return q


def staff_visibility(user: User) -> Q | None:
    """The Q of applications a staff member may see, or None if they hold no staff role.

    Drafts stay private to the applicant until filed."""
    if has_role(user, *ALL_SEEING_ROLES):
        return ~Q(state=S.DRAFT)
    parts = [
        q
        for q in (
            _scoped_filter(user, Role.INSTRUCTOR),
            _scoped_filter(user, Role.COMMITTEE_MEMBER),
        )
        if q
    ]
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined & ~Q(state=S.DRAFT)


def applications_visible_to(user: User) -> QuerySet[Application]:
    """Every application the user may read: their organisations' files, plus their staff scope."""
    if not user.is_authenticated:
        return Application.objects.none()
    organisation_ids = organisation_ids_of(user)
    q = Q(organisation_id__in=organisation_ids)
    if organisation_ids:
        # Partners of a collective file (invited or accepted) see the whole file (§9).
        q |= Q(
            pk__in=ApplicationPartner.objects.filter(
                organisation_id__in=organisation_ids, state__in=CURRENT_PARTNER_STATES
            ).values("application_id")
        )
    staff = staff_visibility(user)
    if staff is not None:
        q |= staff
    qs = Application.objects.filter(q)
    scope = scope_of(user, Role.INSTRUCTOR) or scope_of(user, Role.COMMITTEE_MEMBER)
    if (
        staff is not None
        and not has_role(user, *ALL_SEEING_ROLES)
        and scope
        and not scope.everything
    ):
        qs = qs.distinct()  # joins through calls and territories may repeat rows
    return qs


def current_partners(application: Application) -> QuerySet[ApplicationPartner]:
    """The partners still on the file (invited or accepted), oldest invitation first."""
    return application.partners.filter(state__in=CURRENT_PARTNER_STATES).select_related(
        "organisation"
    )


def partner_of(user: User, application: Application) -> ApplicationPartner | None:
    """The user's organisation's current partnership on the file, or None (the lead is no
    partner)."""
    organisation_ids = organisation_ids_of(user)
    if not organisation_ids or application.organisation_id in organisation_ids:
        return None
    return (
        application.partners.filter(
            organisation_id__in=organisation_ids, state__in=CURRENT_PARTNER_STATES
        )
        .select_related("organisation")
        .first()
    )


def file_members(application: Application) -> QuerySet[User]:
    """Everyone who acts for the file: the lead's members and the accepted partners' (they are
    notified of its history, docs/domain.md §9)."""
    partner_orgs = application.partners.filter(state=PartnerState.ACCEPTED).values(
        "organisation_id"
    )
    return User.objects.filter(
        Q(memberships__organisation_id=application.organisation_id)
        | Q(memberships__organisation_id__in=partner_orgs)
    ).distinct()


def invitations_for(user: User) -> QuerySet[ApplicationPartner]:
    """Invitations waiting for this user's answer: to one of their organisations (by SIRET) or to
    their e-mail address — an account created after the invitation finds it too. Expired ones
    are left out."""
    if not user.is_authenticated:
        return ApplicationPartner.objects.none()
    q = Q(organisation_id__in=organisation_ids_of(user))
    if user.email:
        q |= Q(organisation__isnull=True, invited_email__iexact=user.email)
    return (
        ApplicationPartner.objects.filter(q, state=PartnerState.INVITED)
        .exclude(expires_at__lt=now())
        .select_related("application__organisation", "organisation")
        .order_by("-invited_at")
    )


def is_staff_viewer(user: User, application: Application) -> bool:
    """Whether the user sees the file as staff (staff_visibility), asked of the database (a
    service may hold an object older than the row). Asked several times while one page is built
    (the page, then each transition's `who`): the answer is kept on the file object for this user
    and what it depends on there (its state, assignee and call; a change of territories in the
    same request is not one a staff page makes)."""
    key = (user.pk, application.state, application.assigned_to_id, application.call_id)
    memo = getattr(application, "_pluriel_staff_viewer", None)
    if memo is not None and memo[0] == key:
        return bool(memo[1])
    staff = staff_visibility(user)
    seen = staff is not None and Application.objects.filter(staff, pk=application.pk).exists()
    application._pluriel_staff_viewer = (key, seen)  # type: ignore[attr-defined]
    return seen


def staff_viewable_ids(user: User, ids: Iterable[int]) -> set[int]:
    """The ids among `ids` of the files the user may see as staff (is_staff_viewer for many files,
    in one query)."""
    staff = staff_visibility(user)
    if staff is None:
        return set()
    return set(Application.objects.filter(staff, pk__in=list(ids)).values_list("pk", flat=True))


def instructor_queue(user: User, *, filters: dict | None = None) -> QuerySet[Application]:
    """The instruction queue: visible, filed files, with what the list shows joined in."""
    staff = staff_visibility(user)
    if staff is None:
        return Application.objects.none()
    qs = Application.objects.filter(staff)
    scope = scope_of(user, Role.INSTRUCTOR) or scope_of(user, Role.COMMITTEE_MEMBER)
    if not has_role(user, *ALL_SEEING_ROLES) and scope and not scope.everything:
        qs = qs.distinct()
    qs = filter_applications(qs, filters or {})
    return qs.select_related("organisation", "call", "assigned_to", "pillar").order_by(
        "-submitted_at", "-id"
    )


def filter_applications(qs: QuerySet[Application], filters: dict) -> QuerySet[Application]:
    """Filters shared by the queue and exports: state, call, pillar, qpv, assignee, free search."""
    if state := filters.get("state"):
        qs = qs.filter(state=state)
    if call := filters.get("call"):
        qs = qs.filter(call_id=call)
    if programme := filters.get("programme"):
        qs = qs.filter(programme_id=programme)
    if pillar := filters.get("pillar"):
        qs = qs.filter(pillar_id=pillar)
    if qpv := filters.get("qpv"):
        qs = qs.filter(qpvs__id=qpv)
    if assigned := filters.get("assigned_to"):
        qs = qs.filter(assigned_to_id=assigned)
    if text := (filters.get("q") or "").strip():
        qs = search_applications(qs, text)
    return qs


# Filters the trigger-maintained counters can answer (anything else needs a real count).
COUNTER_FILTERS = {"call", "programme", "state"}


def sees_every_filed_application(user: User) -> bool:
    if has_role(user, *ALL_SEEING_ROLES):
        return True
    return any(
        scope is not None and scope.everything
        for scope in (scope_of(user, Role.INSTRUCTOR), scope_of(user, Role.COMMITTEE_MEMBER))
    )


def scope_fingerprint(user: User) -> str:
    """Who a cached staff list is for (core.data_version): users who see every filed file share
    "all-filed"; anyone else has a key of their own. What decides it (roles, scopes) is in the
    tracked tables, so a change of role changes the data version too."""
    if sees_every_filed_application(user):
        return "all-filed"
    return f"user-{user.pk}"


def counter_counts(user: User, filters: dict | None = None) -> dict[str, int] | None:
    """Filed files per state from the trigger-kept counters, or None when they cannot answer: a user
    who acts for organisations (their drafts count too), one without a staff role, or a filter
    beyond call/programme/state.

    A user who sees every filed file reads ApplicationStateCount; a scoped instructor or committee
    member (territories, assigned calls) reads their own rows of ApplicationScopeCount. Either way
    the cost does not grow with the number of files."""
    filters = filters or {}
    used = {k for k, v in filters.items() if v}
    if not used <= COUNTER_FILTERS or organisation_ids_of(user):
        return None
    counters: QuerySet[ApplicationStateCount] | QuerySet[ApplicationScopeCount]
    if sees_every_filed_application(user):
        counters = ApplicationStateCount.objects.all()
    elif staff_visibility(user) is not None:
        counters = ApplicationScopeCount.objects.filter(user_id=user.pk)
    else:
        return None
    counters = counters.exclude(state=S.DRAFT)
    if call := filters.get("call"):
        counters = counters.filter(call_key=getattr(call, "pk", call))
    if programme := filters.get("programme"):
        counters = counters.filter(programme_id=getattr(programme, "pk", programme))
    if state := filters.get("state"):
        counters = counters.filter(state=state)
    rows = counters.values("state").annotate(total=Sum("n"))
    return {row["state"]: row["total"] for row in rows if row["total"]}


def queue_counts(
    qs: QuerySet[Application], *, user: User | None = None, filters: dict | None = None
) -> dict[str, int]:
    """Count per state for the queue's tabs, in one query: from the counters when they can answer
    (the cost does not grow with the number of files), else by counting the filtered set."""
    if user is not None and (counts := counter_counts(user, filters)) is not None:
        return counts
    # DISTINCT only when the queryset may repeat rows (scoped joins): it forces a sort.
    rows = qs.order_by().values("state").annotate(n=Count("pk", distinct=qs.query.distinct))
    return {row["state"]: row["n"] for row in rows}


def budget_totals(application: Application) -> dict[str, Decimal]:
    """Totals of the CERFA budget: charges, products, in-kind, subsidies, and the balance. A
    collective file's budget is the sum of every partner's lines (docs/domain.md §9)."""
    return _totals(application.budget_items.all())


def part_totals(application: Application, partner: ApplicationPartner | None) -> dict[str, Decimal]:
    """The same totals over one part of a collective file: a partner's lines, or the lead's own
    (partner=None)."""
    return _totals(application.budget_items.filter(partner=partner))


def lines_totals(items: Iterable[BudgetItem]) -> dict[str, Decimal]:
    """budget_totals over lines already read (the file page shows them: no second query)."""
    sums: dict[str, Decimal] = {}
    for item in items:
        sums[item.account] = sums.get(item.account, Decimal("0")) + item.amount
    return _totals_of_sums(sums)


def _totals(items: QuerySet) -> dict[str, Decimal]:
    return _totals_of_sums(
        {
            row["account"]: row["total"] or Decimal("0")
            for row in items.order_by().values("account").annotate(total=Sum("amount"))
        }
    )


def _totals_of_sums(sums: dict[str, Decimal]) -> dict[str, Decimal]:
    charges = sum((sums.get(a, Decimal("0")) for a in CHARGE_ACCOUNTS), Decimal("0"))
    products = sum((sums.get(a, Decimal("0")) for a in PRODUCT_ACCOUNTS), Decimal("0"))
    return {
        "charges": charges,
        "products": products,
        "charges_without_in_kind": charges - sums.get(IN_KIND_CHARGE, Decimal("0")),
        "in_kind_charges": sums.get(IN_KIND_CHARGE, Decimal("0")),
        "in_kind_products": sums.get(IN_KIND_PRODUCT, Decimal("0")),
        "subsidies": sums.get(SUBSIDIES, Decimal("0")),
        "balance": products - charges,
    }


def pending_completion_request(application: Application) -> CompletionRequest | None:
    return application.completion_requests.filter(answered_at__isnull=True).first()


def similar_applications(application: Application) -> QuerySet[Application]:
    """Files of the same organisation in another call of the same fiscal year (a warning, not a
    block: double funding of one action must be visible to the instructor)."""
    return (
        Application.objects.filter(
            organisation_id=application.organisation_id,
            programme__fiscal_year=application.programme.fiscal_year,
        )
        .exclude(pk=application.pk)
        .exclude(call_id=application.call_id)
        .exclude(state__in=[S.WITHDRAWN, S.DRAFT])
        .select_related("call")
    )


def approved_total_for_call(call_id: int, *, exclude_pk: int | None = None) -> Decimal:
    qs = Application.objects.filter(call_id=call_id, state=S.APPROVED)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.aggregate(total=Sum("approved_amount"))["total"] or Decimal("0")


def approved_total_for_programme(programme_id: int, *, exclude_pk: int | None = None) -> Decimal:
    qs = Application.objects.filter(programme_id=programme_id, state=S.APPROVED)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.aggregate(total=Sum("approved_amount"))["total"] or Decimal("0")


def valid_documents_by_kind(application: Application) -> dict[str, object]:
    """The organisation's documents still valid today, newest per kind."""
    found: dict[str, object] = {}
    for doc in application.organisation.documents.order_by("kind", "-uploaded_at"):
        if doc.kind in found:
            continue
        if doc.valid_until is None or doc.valid_until >= today():
            found[doc.kind] = doc
    return found


def committee_agenda(session) -> QuerySet[Application]:
    """The files a committee session decides: on its agenda, or in committee for its programme
    without a session yet (grants.services.committee_record_decisions accepts the same)."""
    waiting = Q(committee_session__isnull=True, programme_id=session.programme_id)
    return (
        Application.objects.filter(Q(committee_session=session) | waiting, state=S.IN_COMMITTEE)
        .select_related("organisation", "call", "assigned_to", "pillar")
        .order_by("reference")
    )


def committee_envelope(session, agenda: list[Application]) -> dict[str, Decimal]:
    """The envelope figures a committee needs: total, already approved, proposed now, remaining.

    The call's envelope when the session is for one call, else the programme's."""
    if session.call_id:
        envelope = session.call.envelope
        approved = approved_total_for_call(session.call_id)
    else:
        envelope = session.programme.envelope
        approved = approved_total_for_programme(session.programme_id)
    proposed = sum((a.proposed_amount or Decimal("0") for a in agenda), Decimal("0"))
    return {
        "envelope": envelope,
        "approved": approved,
        "proposed": proposed,
        "remaining": envelope - approved - proposed,
    }
