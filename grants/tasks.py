from celery import shared_task

from . import services


@shared_task(name="grants.tasks.completion_requests_flag_overdue")
def completion_requests_flag_overdue() -> int:
    """Flag completion requests past their deadline (beat, hourly). Safe to run twice."""
    return services.completion_requests_flag_overdue()


@shared_task(name="grants.tasks.candidacies_prototyping_deadlines")
def candidacies_prototyping_deadlines() -> dict[str, int]:
    """Anti-call: reminder 3 days before the prototyping deadline, overdue flag after it (daily)."""
    from .anticall import services as services_anticall

    return services_anticall.candidacies_prototyping_deadlines()
