"""The decision-time estimate shown on a call's page. A template tag, so that calls (which never
imports grants) can show what happened to the files of its call."""

from django import template

from ..selectors_times import decision_time_estimate as _estimate

register = template.Library()


@register.simple_tag
def decision_time_estimate(call):  # noqa: ANN001, ANN201
    """What happened to recent files of the call (submission → decision); None under 5 files."""
    return _estimate(call)
