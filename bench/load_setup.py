"""Database side of bench/load.py, run as a subprocess with production settings (no gevent here).

    python bench/load_setup.py prepare --files N     rebuild the database, print the run's fixtures (JSON)
    python bench/load_setup.py verify FILE.json      check the submissions the clients saw succeed

`prepare` drops and recreates the database named by DATABASE_URL, migrates, loads `manage.py demo`,
adds N more applications in bulk (in the demo's calls, over its organisations, pillars and QPVs),
collects the static files (production storage needs the manifest), and logs in the users of the
scenarios (sessions and a personal API token), printing what the clients need as one JSON line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import secrets
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 5_000
INSTRUCTOR = "instructeur@demo.pluriel.fr"
FINANCE_OFFICER = "finances@demo.pluriel.fr"
APPLICANT = "porteur@demo.pluriel.fr"


def recreate_database(url: str) -> None:
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    name = cfg["NAME"]
    conninfo = {
        "host": cfg.get("HOST") or "127.0.0.1",
        "port": cfg.get("PORT") or 5432,
        "user": cfg.get("USER") or "postgres",
        "password": cfg.get("PASSWORD") or None,
        "dbname": "postgres",
    }
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import logging

    import django

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)


def add_applications(n: int) -> int:
    """Bulk-insert n applications shaped like the demo's (a filler, like bench/bench_queue.py's)."""
    from calls.models import Call, CallMode
    from core.models import QPV, Organisation, Pillar, Role, User
    from grants.models import Application, ApplicationState

    rng = random.Random(2026)
    calls = list(Call.objects.filter(mode=CallMode.PROJECT_CALL).select_related("programme"))
    # Filler files belong to 3 000 organisations of their own (as bench/bench_queue.py's), so the
    # demo applicant's own lists keep a realistic size.
    from bench_queue import luhn_complete

    organisations = Organisation.objects.bulk_create(
        [
            Organisation(
                name=f"Association {i:05d}",
                siret=luhn_complete(luhn_complete(f"{30_000_000 + i:08d}") + "0001"),
            )
            for i in range(3_000)
        ],
        batch_size=BATCH,
    )
    pillars = list(Pillar.objects.all())
    qpvs = list(QPV.objects.all())
    instructors = list(User.objects.filter(role_assignments__role=Role.INSTRUCTOR).distinct())
    states = list(ApplicationState.values)
    weights = [5 if s == ApplicationState.DRAFT else 10 for s in states]
    start = datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
    link = Application.qpvs.through
    count = 0
    while count < n:
        rows = []
        for _ in range(min(BATCH, n - count)):
            count += 1
            call = rng.choice(calls)
            state = rng.choices(states, weights)[0]
            submitted = (
                None
                if state == ApplicationState.DRAFT
                else start + datetime.timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
            )
            rows.append(
                Application(
                    reference=f"LOAD-2026-{count:06d}",
                    programme=call.programme,
                    call=call,
                    organisation=rng.choice(organisations),
                    state=state,
                    title=f"Projet {count}",
                    summary="Ateliers au pied des immeubles.",
                    pillar=rng.choice(pillars),
                    requested_amount=Decimal(rng.randrange(2_000, 50_000, 100)),
                    submitted_at=submitted,
                    assigned_to=rng.choice(instructors) if rng.random() < 0.7 else None,
                )
            )
        created = Application.objects.bulk_create(rows, batch_size=BATCH)
        link.objects.bulk_create(
            [
                link(application_id=app.pk, qpv_id=q.pk)
                for app in created
                for q in rng.sample(qpvs, rng.choice([1, 1, 1, 2]))
            ],
            batch_size=BATCH,
        )
    return count


def session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def applicant_pool(n: int) -> list[Any]:
    """n applicant accounts, each the member of one filler organisation (its files are the filler's
    ~7 of that organisation): the associations of a real deadline, each with its own lists. Made
    once, found again by a later run on the same database."""
    from core.models import Membership, Organisation, OrganisationDocument, User

    organisations = list(
        Organisation.objects.filter(name__startswith="Association ").order_by("name")[:n]
    )
    if len(organisations) < n:
        raise SystemExit(f"--applicants {n}: only {len(organisations)} filler organisations")
    users = []
    for i, organisation in enumerate(organisations):
        user, created = User.objects.get_or_create(
            email=f"load-applicant-{i:04d}@bench.pluriel.invalid",
            defaults={"first_name": "Porteur", "last_name": f"{i:04d}"},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        Membership.objects.get_or_create(user=user, organisation=organisation)
        users.append(user)
    # The documents a call requires, as the demo's association has them (the same stored files).
    demo = Organisation.objects.filter(memberships__user__email=APPLICANT).first()
    documents = list(demo.documents.all()) if demo else []
    bare = [o for o in organisations if not o.documents.exists()]
    OrganisationDocument.objects.bulk_create(
        [
            OrganisationDocument(
                organisation=organisation,
                **{f: getattr(d, f) for f in ("kind", "title", "file", "original_name", "size")},
                valid_until=d.valid_until,
            )
            for organisation in bare
            for d in documents
        ]
    )
    return users


def applicant_fixture(user: Any) -> dict[str, Any]:
    """What a client acting as this applicant needs: its session, organisation and files."""
    from core.models import Membership
    from grants.models import Application

    organisation_ids = sorted(
        Membership.objects.filter(user=user).values_list("organisation_id", flat=True)
    )
    own = list(
        Application.objects.filter(organisation_id__in=organisation_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return {"session": session_cookie(user), "organisation": organisation_ids[0], "own_files": own}


def prepare(files: int, reuse: bool, applicants: int = 1) -> dict[str, Any]:
    if not reuse:
        recreate_database(os.environ["DATABASE_URL"])
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    added = 0
    if not reuse:
        call_command("demo", verbosity=0)
        added = add_applications(files)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    from calls.models import Call, CallMode, CallState
    from core.models import User
    from core.twofactor import api_token_create
    from grants.forms import ApplicationForm
    from grants.models import Application
    from grants.selectors import applications_visible_to

    users = {e: User.objects.get(email=e) for e in (INSTRUCTOR, FINANCE_OFFICER, APPLICANT)}
    # One account (the demo's applicant, whose organisations hold ~1 500 files), or a pool of
    # `applicants` associations, each with its own few files.
    pool = [users[APPLICANT]] if applicants <= 1 else applicant_pool(applicants)
    call = (
        Call.objects.filter(mode=CallMode.PROJECT_CALL, state=CallState.OPEN)
        .order_by("closes_at")
        .first()
    )
    if call is None:
        raise SystemExit("the demo has no open call for projects: the applicant cannot submit")
    form = ApplicationForm(call=call)
    qpv = form.fields["qpvs"].queryset.first()
    pillar = form.fields["pillar"].queryset.first()
    in_scope = list(
        applications_visible_to(users[INSTRUCTOR]).order_by("pk").values_list("pk", flat=True)[:500]
    )
    _token, key = api_token_create(actor=users[INSTRUCTOR], name="bench load", days=1)
    return {
        "files_added": added,
        "applications": Application.objects.count(),
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
        "sessions": {
            "instructor": session_cookie(users[INSTRUCTOR]),
            "finance": session_cookie(users[FINANCE_OFFICER]),
        },
        "api_token": key,
        "csrf": secrets.token_hex(16),  # 32 characters: Django's unmasked secret length
        "applicant": {
            "call": call.pk,
            "qpv": qpv.pk if qpv else None,
            "pillar": pillar.pk if pillar else None,
        },
        "applicants": [applicant_fixture(user) for user in pool],
        "instructor_files": in_scope,
    }


def verify(path: Path) -> dict[str, Any]:
    """Every submission a client saw succeed: one application of that title, submitted, audited."""
    setup_django()
    from django.contrib.contenttypes.models import ContentType

    from core.models import AuditLog
    from grants.models import Application, ApplicationState

    seen = json.loads(path.read_text())
    ct = ContentType.objects.get_for_model(Application)
    problems: list[str] = []
    for item in seen:
        apps = list(Application.objects.filter(title=item["title"]))
        if len(apps) != 1:
            problems.append(f"{item['title']}: {len(apps)} applications")
            continue
        app = apps[0]
        if app.pk != item["pk"] or app.state == ApplicationState.DRAFT or not app.submitted_at:
            problems.append(f"{item['title']}: pk {app.pk}, state {app.state}")
        actions = list(
            AuditLog.objects.filter(content_type=ct, object_id=str(app.pk)).values_list(
                "action", flat=True
            )
        )
        if actions.count("grants.application.created") != 1:
            problems.append(
                f"{item['title']}: {actions.count('grants.application.created')} created rows"
            )
        if actions.count("grants.application.submitted") != 1:
            problems.append(
                f"{item['title']}: {actions.count('grants.application.submitted')} submitted rows"
            )
    return {"checked": len(seen), "problems": problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--files", type=int, default=20_000)
    p.add_argument("--reuse", action="store_true", help="keep the database, make sessions only")
    p.add_argument("--applicants", type=int, default=1, help="applicant accounts (1: the demo's)")
    v = sub.add_parser("verify")
    v.add_argument("path", type=Path)
    args = parser.parse_args()
    result = (
        prepare(args.files, args.reuse, args.applicants)
        if args.command == "prepare"
        else verify(args.path)
    )
    print("LOAD-SETUP " + json.dumps(result))


if __name__ == "__main__":
    main()
