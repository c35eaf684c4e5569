"""The « Contrats de ville » entry of the main navigation (templates/base.html)."""

from typing import Any

from django import template

from core.models import User

from ..selectors import contracts_readable_by

register = template.Library()


@register.simple_tag(takes_context=True)
def contracts_nav(context: dict[str, Any]) -> bool:
    """True for staff and for anyone holding a role on a contract."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return isinstance(user, User) and contracts_readable_by(user).exists()
