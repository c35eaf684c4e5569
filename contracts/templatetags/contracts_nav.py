"""The « Contrats de ville » entry of the main navigation (templates/base.html)."""

from typing import Any

from django import template

from core.models import User
from core.permissions import is_staff_member
from core.user_facts import user_fact

register = template.Library()


@register.simple_tag(takes_context=True)
def contracts_nav(context: dict[str, Any]) -> bool:
    """True for staff and for anyone holding a role on a contract (contracts_readable_by is not
    empty): the roles are read live, the membership of contracts is a cached fact (contracts/apps.py)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return False
    return is_staff_member(user) or bool(user_fact(user, "contracts"))
