"""'Today' comes from one place so tests can move time."""

import datetime

from django.utils import timezone


def now() -> datetime.datetime:
    return timezone.now()


def today() -> datetime.date:
    return timezone.localdate()
