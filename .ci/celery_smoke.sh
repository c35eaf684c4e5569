#!/usr/bin/env bash
# End-to-end checks with real Celery worker processes against Redis and PostgreSQL:
#   1. a task enqueued by the app is executed by the worker and its effect is visible in the database;
#   2. payments: 3 000 due instalments (agreements created through the services) are put in a run,
#      approved, exported; the confirmation file is applied by a background job the worker runs;
#   3. a worker killed (-9) while applying a 20 000-line confirmation file in 2 000-line chunks: the
#      task is delivered again to a new worker once the broker's visibility timeout (5 s) has passed;
#      it finds the job still claimed (the dead worker's lease, 60 s) and leaves it, then takes it
#      over when the lease has expired; the job finishes with every payment confirmed exactly
#      once — none lost, none paid twice — and reports totals over both attempts (payments
#      confirmed, progress) equal to the file's lines.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DB=pluriel_celery_smoke
export DJANGO_SETTINGS_MODULE=config.settings.dev
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export CELERY_BROKER_URL="redis://127.0.0.1:6379/14"
export CELERY_RESULT_BACKEND="redis://127.0.0.1:6379/14"
STARTED=$SECONDS

psql_db() { PGOPTIONS="--client-min-messages=warning" psql -h 127.0.0.1 -U postgres -d "$1" -qtAX -c "$2"; }

psql_db postgres "DROP DATABASE IF EXISTS $DB" >/dev/null
psql_db postgres "CREATE DATABASE $DB" >/dev/null
redis-cli -h 127.0.0.1 -p 6379 -n 14 FLUSHDB >/dev/null
$BIN/python manage.py migrate --noinput -v 0

LOGS=$(mktemp -d)
WORKERS=()
cleanup() {
    for pid in "${WORKERS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # The payment files the runs stored (dev settings: media-private/), not kept between runs.
    $BIN/python manage.py shell -c '
from finance.models import PaymentConfirmation, PaymentRun
for run in PaymentRun.objects.all():
    run.export_csv.delete(save=False)
    run.export_xlsx.delete(save=False)
for confirmation in PaymentConfirmation.objects.all():
    confirmation.file.delete(save=False)
' >/dev/null 2>&1 || true
}
trap cleanup EXIT

start_worker() {  # start_worker NAME: a solo worker in the background; its pid in $WORKER
    $BIN/celery -A config worker --pool=solo --concurrency=1 -l warning -n "$1@%h" \
        >"$LOGS/$1.log" 2>&1 &
    WORKER=$!
    WORKERS+=("$WORKER")
}

fail() {
    echo "Celery smoke test failed: $1"
    for log in "$LOGS"/*.log; do
        echo "--- $log"
        tail -n 40 "$log"
    done
    exit 1
}

# --------------------------------------------------------------------------- 1. a task runs

start_worker smoke
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
' || fail "the task was not run by the worker"
echo "Celery worker smoke test: OK"
kill "$WORKER"
wait "$WORKER" 2>/dev/null || true

# --------------------------------------------------------------------------- payments

# Both payment workers run with a short visibility timeout: an unacknowledged job (its worker
# killed) is handed to another worker after 5 s instead of an hour.
export CELERY_VISIBILITY_TIMEOUT=5
# A worker's claim on a job lasts 60 s past its last progress report (core.jobs).
export JOB_LEASE_SECONDS=60

# Builds SMOKE_AGREEMENTS one-year agreements (advance + balance, last year: both due) through the
# services, then a run of their instalments: created, approved by two other officers, exported;
# the confirmation file (every payment paid today) checked, then applied by a job sent to the
# worker. Prints "<run reference> <job id> <lines>".
PAYMENTS_PY='
import csv, datetime, io, os
from decimal import Decimal
from django.db import transaction
from django.utils import timezone
from calls.models import Call, CallState, Programme
from core.clock import today
from core.models import BudgetLine, Funder, Organisation, Role, RoleAssignment, User
from cpo import services
from cpo.models import Agreement, AgreementState
from finance import confirmations
from finance import services as services_finance
from finance.models import PaymentRunState
from grants.models import Application, ApplicationState
from tests.factories import siret_for

tag, n, base = os.environ["SMOKE_TAG"], int(os.environ["SMOKE_AGREEMENTS"]), int(os.environ["SMOKE_BASE"])
funder, _ = Funder.objects.get_or_create(name="Métropole", defaults={"kind": Funder.Kind.MUNICIPALITY})
line = BudgetLine.objects.create(code=f"PV-{tag}", label=f"Politique de la ville {tag}", funder=funder)
programme = Programme.objects.create(name=f"Paiements {tag}", fiscal_year=today().year,
                                     envelope=Decimal("1e9"), budget_line=line)
programme.funders.add(funder)
now = timezone.now()
call = Call.objects.create(programme=programme, title=f"Appel {tag}", envelope=Decimal("1e9"),
                           opens_at=now, closes_at=now + datetime.timedelta(days=60))
Call.objects.filter(pk=call.pk).update(state=CallState.DECIDED)
orgs = Organisation.objects.bulk_create([
    Organisation(name=f"Association {tag} {i}", siret=siret_for(base + i), iban="FR7630006000011234567890189", bic="AGRIFRPP")
    for i in range(n)], batch_size=5000)
apps = Application.objects.bulk_create([
    Application(reference=f"SMK-{tag}-{i:06d}", programme=programme, call=call, organisation=org,
                state=ApplicationState.APPROVED, title=f"Action {i}", requested_amount=Decimal(12000 + i),
                approved_amount=Decimal(12000 + i), duration_years=1)
    for i, org in enumerate(orgs)], batch_size=5000)
people = {}
for email, role in [("instructeur", Role.INSTRUCTOR), ("finances", Role.FINANCE_OFFICER),
                    ("comptable", Role.FINANCE_OFFICER), ("dg", Role.FINANCE_OFFICER)]:
    people[email], created = User.objects.get_or_create(email=f"{email}@smoke.example.org")
    RoleAssignment.objects.get_or_create(user=people[email], role=role)
first_year = today().year - 1
agreements = services.agreements_create_bulk(
    actor=people["instructeur"], applications=list(Application.objects.filter(programme=programme)),
    profile="flat", duration_years=1, first_year=first_year, instalment_template="advance_balance")
ids = [a.pk for a in agreements]
# Signature is a per-agreement act in real life; signed here in bulk (setup), then the daily job.
Agreement.objects.filter(pk__in=ids).update(state=AgreementState.SIGNED,
    signed_on=datetime.date(first_year, 1, 5), notified_on=datetime.date(first_year, 1, 5))
services.instalments_refresh(agreement_ids=ids)
run = services_finance.payment_run_create(actor=people["finances"], criteria={"programme": programme.pk},
                                          label=f"Smoke {tag}")
run = services_finance.payment_run_approve(actor=people["comptable"], run=run)
if run.state != PaymentRunState.APPROVED:
    run = services_finance.payment_run_approve(actor=people["dg"], run=run)
# These agreements carry no EJ number: the export is confirmed, as the finance page allows.
run = services_finance.payment_run_export(actor=people["finances"], run=run, allow_missing_ej=True)
out = io.StringIO()
writer = csv.writer(out, delimiter=";")
writer.writerow(["reference_echeance", "reference_lot", "date_paiement", "statut", "motif"])
for ref in run.items.order_by("pk").values_list("instalment_reference", flat=True):
    writer.writerow([ref, run.reference, today().strftime("%d/%m/%Y"), "payé", ""])
check = confirmations.confirmation_check(actor=people["finances"], data=out.getvalue().encode(), name=f"retour-{tag}.csv")
assert check.state == "checked", check.report["errors"][:3]
job = confirmations.confirmation_apply(actor=people["finances"], confirmation=check)  # sent on commit
print(run.reference, job.pk, run.item_count)
'

setup_run() {  # setup_run TAG AGREEMENTS BASE → sets RUN JOB LINES
    local out
    out=$(SMOKE_TAG=$1 SMOKE_AGREEMENTS=$2 SMOKE_BASE=$3 $BIN/python manage.py shell -c "$PAYMENTS_PY" 2>"$LOGS/setup-$1.err") \
        || { cat "$LOGS/setup-$1.err"; fail "setting up the $1 run"; }
    read -r RUN JOB LINES <<<"$(tail -n 1 <<<"$out")"
}

job_field() { psql_db "$DB" "SELECT $1 FROM core_backgroundjob WHERE id = $JOB"; }

wait_done() {  # wait_done SECONDS: until the job is done (fails if it failed or time runs out)
    local deadline=$((SECONDS + $1)) state
    while ((SECONDS < deadline)); do
        state=$(job_field state)
        [[ "$state" == "done" ]] && return 0
        [[ "$state" == "failed" ]] && fail "job $JOB failed: $(job_field error)"
        sleep 0.5
    done
    fail "job $JOB not done after $1 s (state $(job_field state), $(job_field progress_done)/$(job_field progress_total))"
}

check_paid_once() {  # every payment of $RUN confirmed exactly once, the run closed
    local row
    row=$(psql_db "$DB" "
        SELECT
          (SELECT count(*) FROM cpo_paymentrunitem i JOIN cpo_paymentrun r ON r.id = i.run_id
            WHERE r.reference = '$RUN' AND i.status = 'paid'),
          (SELECT count(*) FROM cpo_paymentrunitem i JOIN cpo_paymentrun r ON r.id = i.run_id
            WHERE r.reference = '$RUN' AND i.status = 'pending'),
          (SELECT count(*) FROM cpo_instalment WHERE id IN (
             SELECT i.instalment_id FROM cpo_paymentrunitem i JOIN cpo_paymentrun r ON r.id = i.run_id
             WHERE r.reference = '$RUN') AND state = 'paid'),
          (SELECT count(*) FROM core_auditlog WHERE action = 'cpo.instalment.paid' AND payload->>'run' = '$RUN'),
          (SELECT count(DISTINCT object_id) FROM core_auditlog WHERE action = 'cpo.instalment.paid' AND payload->>'run' = '$RUN'),
          (SELECT state FROM cpo_paymentrun WHERE reference = '$RUN')")
    IFS='|' read -r items pending instalments audits distinct state <<<"$row"
    echo "  $RUN: $items items paid, $pending pending, $instalments instalments paid, $audits audit rows ($distinct distinct), run $state"
    [[ "$items" == "$LINES" && "$pending" == 0 && "$instalments" == "$LINES" && "$audits" == "$LINES" \
        && "$distinct" == "$LINES" && "$state" == "closed" ]] || fail "$RUN: payments lost or paid twice"
}

# --------------------------------------------------------------------------- 2. confirmation by a worker

start_worker payments
setup_run e2e 1500 0
echo "Run $RUN: $LINES payments exported; confirmation job $JOB sent to the worker"
wait_done 120
check_paid_once
echo "Confirmation applied by the worker: OK ($((SECONDS - STARTED)) s so far)"

# --------------------------------------------------------------------------- 3. worker killed halfway

kill "$WORKER"  # the kill test starts its own worker once the job is queued
wait "$WORKER" 2>/dev/null || true
setup_run kill 10000 100000
echo "Run $RUN: $LINES payments exported; confirmation job $JOB queued ($((SECONDS - STARTED)) s)"
start_worker doomed
DOOMED=$WORKER
deadline=$((SECONDS + 120))
while ((SECONDS < deadline)); do
    done_=$(job_field progress_done)
    total=$(job_field progress_total)
    if [[ -n "$total" && "$done_" -gt 0 && "$done_" -lt "$total" ]]; then
        kill -9 "$DOOMED"
        wait "$DOOMED" 2>/dev/null || true
        break
    fi
    [[ "$(job_field state)" == "done" ]] && fail "the job finished before the worker could be killed"
    sleep 0.1
done
kill -0 "$DOOMED" 2>/dev/null && fail "the worker was never killed (progress $(job_field progress_done))"
echo "Worker killed at $(job_field progress_done)/$(job_field progress_total) (job state: $(job_field state); $((SECONDS - STARTED)) s)"
[[ "$(job_field state)" == "running" ]] || fail "the killed job should still be marked running"
start_worker rescuer
RESCUER_LOG="$LOGS/rescuer.log"
# The rescuer gets the task again once the visibility timeout has passed: while the dead worker's
# lease runs it must leave the job (and say so); once the lease has expired it takes it over.
deadline=$((SECONDS + 180))
until grep -q "job $JOB is claimed by another worker" "$RESCUER_LOG"; do
    if [[ "$(job_field attempts)" -ge 2 ]]; then
        echo "(the lease had expired before the task was delivered again: taken over at once)"
        break
    fi
    ((SECONDS < deadline)) || fail "the redelivered task neither left nor took over the job"
    sleep 0.5
done
if grep -q "job $JOB is claimed by another worker" "$RESCUER_LOG"; then
    lease=$(job_field "extract(epoch FROM lease_until - now())::int")
    echo "Redelivered task found job $JOB claimed (lease ${lease} s more) and left it"
fi
wait_done 150
echo "Job $JOB done after $(job_field attempts) attempts ($((SECONDS - STARTED)) s)"
[[ "$(job_field attempts)" -ge 2 ]] || fail "the job should have been run again by the new worker"
check_paid_once
totals=$(psql_db "$DB" "
    SELECT j.result->>'Paiements confirmés', j.result->>'Paiements rejetés', j.progress_done,
           j.progress_total, c.report->'applied'->>'paid'
      FROM core_backgroundjob j
      JOIN cpo_paymentconfirmation c ON c.id = (j.params->>'confirmation')::int
     WHERE j.id = $JOB")
IFS='|' read -r confirmed rejected pdone ptotal applied <<<"$totals"
echo "  reported: $confirmed confirmed, $rejected rejected, progress $pdone/$ptotal, confirmation file: $applied paid"
[[ "$confirmed" == "$LINES" && "$rejected" == 0 && "$pdone" == "$LINES" && "$ptotal" == "$LINES" \
    && "$applied" == "$LINES" ]] || fail "the resumed job must report totals over all its attempts"
echo "Killed worker: job resumed by another worker, every payment confirmed once: OK ($((SECONDS - STARTED)) s)"
