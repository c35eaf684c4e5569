#!/usr/bin/env bash
# End-to-end check with a real Celery worker process against Redis and PostgreSQL:
# a task enqueued by the app is executed by the worker and its effect is visible in the database.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DB=pluriel_celery_smoke
export DJANGO_SETTINGS_MODULE=config.settings.dev
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export CELERY_BROKER_URL="redis://127.0.0.1:6379/14"
export CELERY_RESULT_BACKEND="redis://127.0.0.1:6379/14"

PGOPTIONS="--client-min-messages=warning" psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB" >/dev/null
PGOPTIONS="--client-min-messages=warning" psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $DB" >/dev/null
$BIN/python manage.py migrate --noinput -v 0

LOG=$(mktemp)
$BIN/celery -A config worker --pool=solo --concurrency=1 -l warning >"$LOG" 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true; wait $WORKER 2>/dev/null || true' EXIT

$BIN/python manage.py shell -c '
import datetime, sys
from decimal import Decimal
from django.utils import timezone
from calls.models import Call, CallState, Programme
from calls.tasks import calls_advance_by_dates
now = timezone.now()
p = Programme.objects.create(name="Smoke", fiscal_year=2026, envelope=Decimal("1000"))
c = Call.objects.create(programme=p, title="Smoke call", envelope=Decimal("1000"),
                        opens_at=now - datetime.timedelta(hours=1), closes_at=now + datetime.timedelta(days=1))
Call.objects.filter(pk=c.pk).update(state=CallState.PUBLISHED)
result = calls_advance_by_dates.delay().get(timeout=60)
state = Call.objects.get(pk=c.pk).state
again = calls_advance_by_dates.delay().get(timeout=60)
print("worker result:", result, "call state:", state, "second run:", again)
sys.exit(0 if (result["opened"] == 1 and state == "open" and again["opened"] == 0) else 1)
' || { echo "Celery smoke test failed; worker log:"; cat "$LOG"; exit 1; }
echo "Celery worker smoke test: OK"
