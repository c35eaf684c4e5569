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


ALLOCATION_PROGRESS_SECONDS = 3600


def allocation_progress_key(call_id: int) -> str:
    return f"grants:allocation:{call_id}"


def allocation_progress(call_id: int) -> dict | None:
    """What the last computation of the call's allocation reported: state running, done (with the
    run id) or failed (with the message). None when nothing was started recently."""
    from django.core.cache import cache

    return cache.get(allocation_progress_key(call_id))


def allocation_progress_set(call_id: int, **values) -> None:
    from django.core.cache import cache

    cache.set(allocation_progress_key(call_id), values, ALLOCATION_PROGRESS_SECONDS)


@shared_task(name="grants.tasks.allocation_compute_task")
def allocation_compute_task(call_id: int, actor_id: int) -> int | None:
    """Call for solutions: compute both allocation rules after the vote (the Add1 completion can
    take seconds), recording progress for the results page: running, then done or failed with the
    service's message. Refused computations are recorded, not retried."""
    from calls.models import Call
    from core.errors import DomainError
    from core.models import User

    from .solutions import services as services_solutions

    allocation_progress_set(call_id, state="running")
    try:
        run = services_solutions.allocation_compute(
            actor=User.objects.get(pk=actor_id), call=Call.objects.get(pk=call_id)
        )
    except DomainError as exc:
        allocation_progress_set(
            call_id, state="failed", message=str(exc.message), status=exc.status_code
        )
        return None
    except Exception:
        allocation_progress_set(call_id, state="failed", message="", status=500)
        raise
    allocation_progress_set(call_id, state="done", run=run.pk)
    return run.pk
