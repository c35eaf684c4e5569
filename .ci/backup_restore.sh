#!/usr/bin/env bash
# Backups proven by restoring (issue 12): the demo is loaded on PostgreSQL, its audit chain
# anchored, backed up (`manage.py backup`: pg_dump custom format from one snapshot, private files,
# anchors, manifest of checksums and row counts), then restored (`manage.py restore`) into a fresh
# database and a fresh folder, which checks every table's row count, every file's checksum and the
# audit chain. This script then compares a few counts and files itself, independently.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SRC=${BACKUP_SRC_DB:-pluriel_backup_src}  # own names: several checkouts may share a server
DST=${BACKUP_DST_DB:-pluriel_backup_dst}
WORK=$(mktemp -d)
export DJANGO_SETTINGS_MODULE=config.settings.dev
trap 'rm -rf "$WORK"' EXIT

psql_db() { PGOPTIONS="--client-min-messages=warning" psql -h 127.0.0.1 -U postgres -d "$1" -qtAX -c "$2"; }
for db in $SRC $DST; do
    psql_db postgres "DROP DATABASE IF EXISTS $db" >/dev/null
    psql_db postgres "CREATE DATABASE $db" >/dev/null
done

# The demo, on PostgreSQL, with its own private files and anchors.
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$SRC"
export PRIVATE_MEDIA_ROOT="$WORK/media-src" AUDIT_ANCHOR_DIR="$WORK/anchors-src"
$BIN/python manage.py migrate --noinput -v 0
$BIN/python manage.py demo >/dev/null
$BIN/python manage.py audit_verify --anchor
BACKUP=$($BIN/python manage.py backup --output "$WORK/backups")
echo "Backup: $BACKUP"
ls -l "$BACKUP"

# Restored into a fresh database and folder.
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DST"
export PRIVATE_MEDIA_ROOT="$WORK/media-dst" AUDIT_ANCHOR_DIR="$WORK/anchors-dst"
$BIN/python manage.py restore "$BACKUP"
$BIN/python manage.py audit_verify

# Independent checks: a few tables' counts, a few files' checksums.
for table in core_auditlog core_auditseal core_organisation grants_application cpo_agreement \
    cpo_instalment core_organisationdocument; do
    a=$(psql_db $SRC "SELECT count(*) FROM $table")
    b=$(psql_db $DST "SELECT count(*) FROM $table")
    echo "  $table: $a rows in the demo, $b restored"
    [[ "$a" == "$b" && "$a" -gt 0 ]] || { echo "row counts differ (or empty) for $table"; exit 1; }
done
files=0
while IFS= read -r -d '' path; do
    rel=${path#"$WORK/media-src/"}
    [[ "$(sha256sum <"$path")" == "$(sha256sum <"$WORK/media-dst/$rel")" ]] \
        || { echo "file differs after restore: $rel"; exit 1; }
    files=$((files + 1))
    [[ $files -ge 5 ]] && break
done < <(find "$WORK/media-src" -type f -print0)
[[ $files -gt 0 ]] || { echo "the demo wrote no private file to check"; exit 1; }
echo "  $files files compared byte for byte"

# A restore of a damaged backup is refused.
psql_db postgres "DROP DATABASE $DST" >/dev/null
psql_db postgres "CREATE DATABASE $DST" >/dev/null
printf 'x' >>"$BACKUP/files.tar"
if $BIN/python manage.py restore "$BACKUP" 2>"$WORK/err"; then
    echo "a damaged backup was restored"
    exit 1
fi
grep -q "checksum differs" "$WORK/err" && echo "  a damaged backup is refused: OK"
for db in $SRC $DST; do psql_db postgres "DROP DATABASE IF EXISTS $db" >/dev/null; done
echo "Backup and restore: OK"
