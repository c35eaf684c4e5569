from celery import shared_task

from . import services


@shared_task(name="cpo.tasks.instalments_refresh")
def instalments_refresh() -> dict[str, int]:
    """Daily: instalments due when their conditions hold, on hold otherwise, late after 60 days."""
    return services.instalments_refresh()


@shared_task(name="cpo.tasks.evaluations_remind")
def evaluations_remind() -> dict[str, int]:
    """Daily: evaluation reminders 30 and 7 days before, overdue flag after."""
    return services.evaluations_remind()
