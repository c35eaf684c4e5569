"""What every page's navigation needs: the user's roles and unread notifications."""

from typing import Any

from django.db.models import Count
from django.http import HttpRequest

from .compiled_reads import CompiledRead
from .models import Notification, Role
from .permissions import has_role, is_staff_member, organisation_ids_of, roles_of


def instructs(user: Any) -> bool:
    """The menu's « instruction » flag (also shown in the file page's body, which is rendered
    without the context processors)."""
    return has_role(user, Role.INSTRUCTOR, Role.PROGRAMME_MANAGER)


# Counted on every signed-in page, compiled once per process (core.compiled_reads, issue 17): one
# row with the count, none when the user has no unread notification.
UNREAD_COUNT = CompiledRead(
    lambda user_id: (
        Notification.objects.filter(user_id=user_id, read_at__isnull=True)
        .values("user_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
)


def unread_count(user: Any) -> int:
    rows = UNREAD_COUNT(user.pk)
    return int(rows[0]["n"]) if rows else 0


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    if not user.is_authenticated:
        return {"nav": {"authenticated": False}}
    nav: dict[str, Any] = {
        "authenticated": True,
        "is_applicant": bool(organisation_ids_of(user)),
        "is_staff_member": is_staff_member(user),
        "is_instructor": instructs(user),
        "is_committee": has_role(user, Role.COMMITTEE_MEMBER, Role.PROGRAMME_MANAGER),
        "is_manager": has_role(user, Role.PROGRAMME_MANAGER),
        "is_finance": has_role(user, Role.FINANCE_OFFICER, Role.PROGRAMME_MANAGER, Role.AUDITOR),
        "is_dashboard": has_role(user, Role.PROGRAMME_MANAGER, Role.FINANCE_OFFICER, Role.AUDITOR),
        "is_panel_member": Role.PANEL_MEMBER in roles_of(user),
        "unread": unread_count(user),
    }
    # Everything the menu's HTML depends on but the language and the two tags of templates/base.html:
    # the key of its cached fragment (issue 17; rendering ~20 links and labels cost ~1 ms a page).
    nav["key"] = ",".join(f"{name}={value}" for name, value in sorted(nav.items()))
    return {"nav": nav}
