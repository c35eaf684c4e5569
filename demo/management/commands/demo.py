"""`manage.py demo`: a realistic, deterministic data set to try Pluriel (idempotent).

Reference rows (funders, QPVs, pillars, themes, budget lines, organisations, users) are written with
the ORM; every workflow change goes through `calls.services` and `grants.services`, so states,
audit rows and notifications are the real ones. Running it twice adds nothing; `--reset` removes
the demo rows first and rebuilds them identically (same references, titles and amounts).
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Count
from django.test.utils import override_settings

from demo.agreements import (
    load_agreements,
)
from demo.classic import (
    load_applications,
    load_calls,
    record_committee_decisions,
)
from demo.context import Context
from demo.data import (
    APPLICANT_EMAIL,
    PASSWORD,
    SEED,
    STAFF,
    S,
)
from demo.dates import spread_dates
from demo.loader import load_other_modes
from demo.people import load_people, load_reference_data
from demo.reset import (
    reset_demo,
)
from grants.models import (
    Application,
)


class Command(BaseCommand):
    help = (
        "Load a realistic demo data set (idempotent). Every demo login uses the password demo1234."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--reset", action="store_true", help="Remove the demo rows first, then rebuild them."
        )
        parser.add_argument(
            "--send-emails",
            action="store_true",
            help="Send the notification emails (by default they are discarded).",
        )

    def handle(
        self, *args: Any, reset: bool = False, send_emails: bool = False, **options: Any
    ) -> None:
        started = time.monotonic()
        # Eager Celery logs every in-process task; a demo load would print one line per email.
        logging.getLogger("celery").setLevel(logging.WARNING)
        backend = None if send_emails else "django.core.mail.backends.dummy.EmailBackend"
        with override_settings(EMAIL_BACKEND=backend) if backend else contextlib.nullcontext():
            if reset:
                removed = reset_demo()
                self.stdout.write(f"Demo rows removed: {removed} applications.")
            ctx = Context(rng=random.Random(SEED))
            load_reference_data(ctx)
            load_people(ctx)
            load_calls(ctx)
            created = load_applications(ctx)
            decided = record_committee_decisions(ctx)
            built = load_other_modes(ctx)
            from demo.collective import load_collective

            built["collective"] = load_collective(ctx)
            from demo.cofunded import load_cofunded

            built["cofunded"] = load_cofunded(ctx)
            built["agreements"] = load_agreements(ctx)
            from demo.collective import load_collective_agreement

            # After load_agreements: its plan takes the approved files in order.
            built["collective agreement"] = load_collective_agreement(ctx)
            from demo.cofunded import load_cofunded_agreements

            built["cofunded agreements"] = load_cofunded_agreements(ctx)
            from demo.signatures import load_signing

            built["signing"] = load_signing(ctx)
            from demo.finance import load_finance_demo

            built["finance"] = load_finance_demo(write=self.stdout.write)
            from demo.contracts import load_contract_demo

            built["contract"] = load_contract_demo(ctx)
            from demo.directory import load_directory_demo

            built["directory"] = load_directory_demo(ctx)
            if created:
                spread_dates(ctx)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready in {time.monotonic() - started:.1f} s: {created} applications created, "
                f"{decided} committee decisions recorded; other modes built now: "
                f"{', '.join(name for name, done in built.items() if done) or 'none'}."
            )
        )
        counts = dict(
            Application.objects.filter(programme=ctx.programme)
            .values_list("state")
            .annotate(n=Count("pk"))
            .order_by()
        )
        self.stdout.write(
            "  " + ", ".join(f"{label}: {counts.get(code, 0)}" for code, label in S.choices)
        )
        self.stdout.write(f"Logins (password « {PASSWORD} »):")
        self.stdout.write(f"  {APPLICANT_EMAIL:<38} porteur de projet (2 associations)")
        for person in STAFF:
            self.stdout.write(f"  {person.email:<38} {person.note}")
