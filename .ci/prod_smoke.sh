#!/usr/bin/env bash
# Production as it really runs: nginx (Debian package, deploy/nginx.conf) terminating TLS with a
# throwaway self-signed certificate, in front of gunicorn with config.settings.production on
# PostgreSQL; then the browser smoke tests tests/browser/test_behind_nginx.py through it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DB=pluriel_prod_smoke
HTTPS_PORT=18443
HTTP_PORT=18080
APP=127.0.0.1:18001
WORK=$(mktemp -d)
PIDS=()

if ! command -v nginx >/dev/null 2>&1; then
    apt-get update && apt-get install -y nginx
fi

cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

psql_db() { PGOPTIONS="--client-min-messages=warning" psql -h 127.0.0.1 -U postgres -d "$1" -qtAX -c "$2"; }
psql_db postgres "DROP DATABASE IF EXISTS $DB" >/dev/null
psql_db postgres "CREATE DATABASE $DB" >/dev/null

export DJANGO_SETTINGS_MODULE=config.settings.production
DJANGO_SECRET_KEY=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(64))')
export DJANGO_SECRET_KEY
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB"
export CELERY_BROKER_URL="redis://127.0.0.1:6379/13"
export CACHE_URL="redis://127.0.0.1:6379/13"
export ALLOWED_HOSTS=localhost
export SITE_URL="https://localhost:$HTTPS_PORT"
export CSRF_TRUSTED_ORIGINS="https://localhost:$HTTPS_PORT"
export TRUSTED_PROXIES=127.0.0.1
export PRIVATE_MEDIA_ROOT="$WORK/media"
redis-cli -h 127.0.0.1 -p 6379 -n 13 FLUSHDB >/dev/null

$BIN/python manage.py migrate --noinput -v 0
$BIN/python manage.py collectstatic --noinput -v 0
$BIN/python manage.py shell -c '
from core.models import Role, RoleAssignment, User
for email, role in [("instructeur@ville.example.org", Role.INSTRUCTOR),
                    ("finances@ville.example.org", Role.FINANCE_OFFICER)]:
    user = User.objects.create_user(email=email, password="secret-pass-123")
    RoleAssignment.objects.create(user=user, role=role)
'

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost" \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
sed -e "s#@SERVER_NAME@#localhost#g" -e "s#@UPSTREAM@#$APP#g" \
    -e "s#@HTTPS_PORT@#$HTTPS_PORT#g" -e "s#@HTTP_PORT@#$HTTP_PORT#g" \
    -e "s#@CERT@#$WORK/tls.crt#g" -e "s#@KEY@#$WORK/tls.key#g" \
    deploy/nginx.conf >"$WORK/site.conf"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log $WORK/nginx-access.log;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    include $WORK/site.conf;
}
CONF
nginx -t -q -c "$WORK/nginx.conf" -p "$WORK"
nginx -c "$WORK/nginx.conf" -p "$WORK"

$BIN/gunicorn config.wsgi --bind "$APP" --workers 2 --access-logfile - --error-logfile - \
    >"$WORK/gunicorn.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 30); do
    curl -ksf -o /dev/null "https://localhost:$HTTPS_PORT/connexion/" && break
    sleep 1
done

status=0
env -u DATABASE_URL PLURIEL_PROD_URL="https://localhost:$HTTPS_PORT" \
    PLURIEL_PROD_HTTP_URL="http://localhost:$HTTP_PORT" DJANGO_SETTINGS_MODULE=config.settings.test \
    $BIN/pytest -m browser tests/browser/test_behind_nginx.py -p no:cacheprovider || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- gunicorn log (tail)"; tail -n 60 "$WORK/gunicorn.log" || true
    echo "--- nginx error log"; cat "$WORK/nginx-error.log" || true
fi
exit "$status"
