"""The « Conventions » / « Mes conventions » entry of the main navigation (templates/base.html)."""

from django import template

from ..selectors import has_agreements

register = template.Library()


@register.simple_tag(takes_context=True)
def agreements_nav(context: template.Context) -> bool:
    """True for staff and for members of an organisation that has an agreement."""
    request = context.get("request")
    return bool(request is not None and has_agreements(request.user))
