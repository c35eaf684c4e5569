"""Template helpers of the anti-call pages."""

from django import template

from .selectors import structure_invitations

register = template.Library()


@register.simple_tag
def structure_invitation_count(user) -> int:
    """How many anti-call invitations the user's structures have (« Mes invitations »)."""
    return structure_invitations(user).count()
