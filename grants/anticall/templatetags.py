"""Template helpers of the anti-call pages."""

from django import template

from core.user_facts import user_fact

register = template.Library()


@register.simple_tag
def structure_invitation_count(user) -> int:
    """How many anti-call invitations the user's structures have (« Mes invitations »): the
    count of structure_invitations, a cached fact (grants/apps.py)."""
    if not user.is_authenticated:
        return 0
    return int(user_fact(user, "anticall_invitations"))
