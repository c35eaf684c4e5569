from celery import shared_task

from . import services


@shared_task(name="grants.tasks.completion_requests_flag_overdue")
def completion_requests_flag_overdue() -> int:
    """Flag completion requests past their deadline (beat, hourly). Safe to run twice."""
    return services.completion_requests_flag_overdue()
