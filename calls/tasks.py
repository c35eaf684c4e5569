from celery import shared_task

from . import services


@shared_task(name="calls.tasks.calls_advance_by_dates")
def calls_advance_by_dates() -> dict[str, int]:
    """Open and close calls at their dates (beat, every 15 minutes). Safe to run twice."""
    return services.calls_advance_by_dates()
