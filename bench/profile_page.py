"""CPU per request of the hot pages in one process, and where it goes (issue 17).

Run after bench/load.py has filled its database (same DATABASE_URL, default pluriel_load):

    .venv/bin/python bench/profile_page.py                     # CPU ms per request, every page
    .venv/bin/python bench/profile_page.py --profile queue     # + cProfile (CPU time) of one page
    .venv/bin/python bench/profile_page.py --sql file          # + the SQL one request sends

Production settings as bench/load.py serves them; requests go through Django's test client (the
whole middleware stack, no socket). CPU time is this process's (time.process_time), so the figure
is steadier than wall time on a shared machine; the bare view is the reference, as in load.py.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import DEFAULT_PG, edit_payload, server_env  # noqa: E402
from load_setup import APPLICANT, FINANCE_OFFICER, INSTRUCTOR  # noqa: E402

PAGES = ["bare", "queue", "file", "mine", "api", "instalments"]
# bench/load.py's mixed day as draws of one request: user weights (instructors 4, applicants 5,
# finance 1) times each user's task weights; a submit is its three POSTs.
MIXED = ["queue", "staff-file", "api", "mine", "file", "submit", "instalments"]
MIXED_WEIGHTS = [4 * 5 / 9, 4 * 3 / 9, 4 * 1 / 9, 5 * 3 / 6, 5 * 2 / 6, 5 * 1 / 6, 1]
# Not in the default list: "submit" writes (a draft created, saved and submitted per request, as
# bench/load.py's submit_flow); run it on a copy of the database if the other figures matter.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--requests", type=int, default=40, help="measured requests per page (40)")
    parser.add_argument("--profile", default="", help="page to profile (cProfile, CPU time)")
    parser.add_argument("--sort", default="cumulative", help="cProfile order (cumulative)")
    parser.add_argument("--lines", type=int, default=60, help="cProfile lines (60)")
    parser.add_argument("--sql", default="", help="page whose SQL to print")
    parser.add_argument(
        "--cold", action="store_true", help="no cache (Django's dummy one): every page rendered"
    )
    parser.add_argument(
        "--bump",
        default="",
        help="counters (core_dataversion names, comma-separated) moved before each request, as a"
        " write would: the parts cached under them are rendered, the rest stays cached",
    )
    args = parser.parse_args()

    os.environ.update(server_env(os.environ.get("DATABASE_URL") or DEFAULT_PG))
    import django
    from django.conf import settings

    django.setup()
    if args.cold:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from core.models import Membership, User
    from core.twofactor import api_token_create
    from grants.models import Application
    from grants.selectors import applications_visible_to

    users = {e: User.objects.get(email=e) for e in (INSTRUCTOR, FINANCE_OFFICER, APPLICANT)}
    clients: dict[str, Client] = {}
    for role, email in (
        ("instructor", INSTRUCTOR),
        ("finance", FINANCE_OFFICER),
        ("applicant", APPLICANT),
    ):
        clients[role] = Client(HTTP_HOST="127.0.0.1")
        clients[role].force_login(users[email])
    _token, key = api_token_create(actor=users[INSTRUCTOR], name="bench profile", days=1)
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
    org_ids = Membership.objects.filter(user=users[APPLICANT]).values_list(
        "organisation_id", flat=True
    )
    own = list(Application.objects.filter(organisation_id__in=org_ids).values_list("pk", flat=True))
    scope = list(
        applications_visible_to(users[INSTRUCTOR]).order_by("pk").values_list("pk", flat=True)[:50]
    )
    anonymous = Client(HTTP_HOST="127.0.0.1")
    mixed_draw = random.Random(17)
    submit_fx: dict[str, Any] = {}

    def submit_flow(i: int) -> Any:
        """bench/load.py's submit_flow: create a draft, save the full edit form, submit it."""
        if not submit_fx:
            from calls.models import Call, CallMode, CallState
            from grants.forms import ApplicationForm

            call = (
                Call.objects.filter(mode=CallMode.PROJECT_CALL, state=CallState.OPEN)
                .order_by("closes_at")
                .first()
            )
            form = ApplicationForm(call=call)
            qpv = form.fields["qpvs"].queryset.first()
            pillar = form.fields["pillar"].queryset.first()
            submit_fx["applicant"] = {
                "organisation": org_ids[0],
                "call": call.pk,
                "qpv": qpv.pk if qpv else None,
                "pillar": pillar.pk if pillar else None,
            }
        client = clients["applicant"]
        title = f"Profil {time.time_ns()}-{i}"
        a = submit_fx["applicant"]
        # Form-encoded, as browsers and bench/load.py post them (the test client's default,
        # multipart, costs its own parsing).
        form = "application/x-www-form-urlencoded"
        r = client.post(
            "/dossiers/nouveau/",
            urlencode({"organisation": a["organisation"], "call": a["call"], "title": title}),
            content_type=form,
        )
        if r.status_code != 302:
            raise SystemExit(f"submit: create answered {r.status_code}")
        edit_url = r["Location"]
        for action in ("save", "submit"):
            r = client.post(
                edit_url,
                urlencode(edit_payload(submit_fx, title, action), doseq=True),
                content_type=form,
            )
            if r.status_code != 302 or (action == "submit" and r["Location"] == edit_url):
                raise SystemExit(f"submit: {action} answered {r.status_code} {r.get('Location')}")
        r.status_code = 200  # the three POSTs went through: count them as one page
        return r

    def request(page: str, i: int) -> Any:
        if page == "bare":
            return anonymous.get("/_bench/ok/")
        if page == "bare-session":  # the bare view as a logged-in instructor: middleware cost
            return clients["instructor"].get("/_bench/ok/")
        if page == "queue":
            return clients["instructor"].get("/instruction/")
        if page == "file":
            return clients["applicant"].get(f"/dossiers/{own[i % len(own)]}/")
        if page == "staff-file":
            return clients["instructor"].get(f"/dossiers/{scope[i % len(scope)]}/")
        if page == "mine":
            return clients["applicant"].get("/dossiers/")
        if page == "api":
            return api.get("/api/applications/")
        if page == "instalments":
            return clients["finance"].get("/finances/echeances/")
        if page == "submit":
            return submit_flow(i)
        if page == "mixed":  # bench/load.py's mixed day, one request drawn by its weights
            return request(mixed_draw.choices(MIXED, MIXED_WEIGHTS)[0], i)
        raise SystemExit(f"unknown page {page}")

    bumped = [name.strip() for name in args.bump.split(",") if name.strip()]

    def bump() -> None:
        """Move the --bump counters, as a write would (in the measure and in the profile)."""
        if bumped:
            with connection.cursor() as cursor:
                marks = ", ".join(["%s"] * len(bumped))
                cursor.execute(
                    f"UPDATE core_dataversion SET n = n + 1 WHERE name IN ({marks})", bumped
                )

    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    for extra in (args.profile, args.sql):
        if extra and extra not in pages:
            pages.append(extra)
    results: dict[str, float] = {}
    for page in pages:
        for i in range(5):  # warm-up: templates, translations, connections
            response = request(page, i)
            if response.status_code != 200:
                raise SystemExit(f"{page}: HTTP {response.status_code}")
        t0 = time.process_time()
        for i in range(args.requests):
            bump()
            request(page, i)
        results[page] = 1000 * (time.process_time() - t0) / args.requests
        if page == args.sql:
            bump()
            with CaptureQueriesContext(connection) as ctx:
                request(page, 0)
            for q in ctx.captured_queries:
                print(f"[{q['time']}] {q['sql'][:400]}")
            print(f"{page}: {len(ctx.captured_queries)} queries\n")
        if page == args.profile:
            # CPU time, not wall time: on a shared machine the wall clock mostly measures waiting.
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for i in range(args.requests):
                bump()
                request(page, i)
            profiler.disable()
            stats = pstats.Stats(profiler).strip_dirs()
            stats.sort_stats(args.sort).print_stats(args.lines)
            if os.environ.get("CALLEES"):
                stats.print_callees(os.environ["CALLEES"])
    bare = results.get("bare")
    print("| page | CPU ms/request | ratio to bare |")
    print("|---|---|---|")
    for page, ms in results.items():
        ratio = f"1/{ms / bare:.1f}" if bare else "—"
        print(f"| {page} | {ms:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
