"""What happened to recent files of a call: the time from submission to decision, shown to
applicants on the call page as an observation, never a promise.

« Pour les N derniers dossiers de cet appel, la décision est intervenue en X jours ou moins pour
la moitié d'entre eux et en Y jours ou moins pour 9 sur 10. » Démarches Simplifiées learnt that a
bare « délai : 90 jours » reads as a commitment, so the sentence says what was observed, on how
many files, and the page adds that it is no commitment.

Rules:
- decided = approved or refused (a decision on the merits), with both dates known; the most
  recent RECENT_FILES decisions count;
- the call's own files first; when it has fewer than MIN_FILES, the files of the other calls of
  the same mode in the same programme; still fewer: nothing is shown;
- days are calendar days between the local (Europe/Paris) dates of submission and decision;
- median and 9 in 10 are nearest-rank: at least half (nine in ten) of the files were decided in
  that many days or fewer — exactly what the sentence says. The dashboards use the same definition
  (reporting.analytics);
- anti-calls are left out: their structures are sourced and funded, nobody applies.

Pure ORM and Python (grants does not import reporting, and pandas stays there).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from calls.models import Call, CallMode

from .models import Application, ApplicationState

MIN_FILES = 5
RECENT_FILES = 50
DECISION_STATES = [ApplicationState.APPROVED, ApplicationState.REJECTED]


@dataclass(frozen=True)
class DecisionTimeEstimate:
    """Observed submission → decision times of recent files."""

    files: int
    median_days: int
    p90_days: int
    #: "call" when the call's own files are enough, else "programme".
    scope: str
    programme_name: str = ""

    def sentence(self) -> str:
        median = ngettext("%(days)s jour ou moins", "%(days)s jours ou moins", self.median_days) % {
            "days": self.median_days
        }
        p90 = ngettext("%(days)s jour ou moins", "%(days)s jours ou moins", self.p90_days) % {
            "days": self.p90_days
        }
        if self.scope == "call":
            text = _(
                "Pour les %(n)s derniers dossiers décidés de cet appel, la décision est "
                "intervenue en %(median)s pour la moitié d'entre eux et en %(p90)s pour 9 sur 10."
            )
        else:
            text = _(
                "Pour les %(n)s derniers dossiers décidés du programme « %(programme)s », la "
                "décision est intervenue en %(median)s pour la moitié d'entre eux et en %(p90)s "
                "pour 9 sur 10."
            )
        return text % {
            "n": self.files,
            "median": median,
            "p90": p90,
            "programme": self.programme_name,
        }


def nearest_rank(values: list[int], num: int, den: int) -> int:
    """The ceil(n·num/den)-th smallest value, in integer arithmetic (9/10 of 10 is the 9th)."""
    ordered = sorted(values)
    return ordered[-(-len(ordered) * num // den) - 1]


def _recent_days(**where: object) -> list[int]:
    rows = (
        Application.objects.filter(
            state__in=DECISION_STATES,
            submitted_at__isnull=False,
            decided_at__isnull=False,
            **where,
        )
        .order_by("-decided_at", "-pk")
        .values_list("submitted_at", "decided_at")[:RECENT_FILES]
    )
    return [
        max(0, (timezone.localdate(decided) - timezone.localdate(submitted)).days)
        for submitted, decided in rows
    ]


def decision_time_estimate(call: Call) -> DecisionTimeEstimate | None:
    """The observed decision times for `call` (or its programme), None when too few files."""
    if call.mode == CallMode.ANTI_CALL:
        return None
    days = _recent_days(call=call)
    scope = "call"
    if len(days) < MIN_FILES:
        days = _recent_days(programme_id=call.programme_id, call__mode=call.mode)
        scope = "programme"
    if len(days) < MIN_FILES:
        return None
    return DecisionTimeEstimate(
        files=len(days),
        median_days=nearest_rank(days, 1, 2),
        p90_days=nearest_rank(days, 9, 10),
        scope=scope,
        programme_name=call.programme.name if scope == "programme" else "",
    )
