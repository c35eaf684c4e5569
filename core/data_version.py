"""Pages cached under a data version (issue 17, docs/decisions/2026-12-07-page-cost.md).

A *group* names the tables a family of pages reads (e.g. "file_lists": the calls, organisations,
quarters, the users and roles that decide who sees which file). Every write to one
of them bumps the group's counter (`core.DataVersion`) by a database trigger, so bulk updates, raw
SQL, imports and the admin bump it as well as the services. A page part cached under the counter's
value therefore cannot be served once a change it shows has committed:

- PostgreSQL: a deferred constraint trigger bumps the counter once per transaction, at commit,
  after every other lock the transaction took (no deadlock through the counter's row), and the new
  value becomes visible with the data it stands for.
- SQLite: a plain trigger per row (SQLite runs one writer at a time anyway).

The counter starts at a random value when its row is created, so a database emptied and refilled
(tests, a fresh install) does not meet the cache entries of its previous life.

Reads inside a transaction (`atomic`) never use the cache: what they see may not be committed.
The cache is Django's default one (Redis in production, locmem in development and tests); when it
fails, the part is computed as if there were no cache.

Apps say which of their tables a group reads in their `ready()` (`track`); the triggers are
installed after every `migrate` (`install_triggers`), which also drops the ones no longer listed.

*Keyed* versions (`track_keyed`) are counters of one object, named `<prefix>:<id>` (e.g.
`file:42`): a write to a row bumps the counters of the objects the row belongs to, found by a
query on the row (its file's id, or its agreement's file's id…), with the same commit-time,
deferred triggers. A page of one object is then cached under its own counter, not under a group
that every other object's write bumps too (`current_versions` reads several in one query). A
constant id makes a keyed counter a group whose rows count only under a condition joining other
tables (e.g. `filed:all`: the files that are not drafts, and their links), which a trigger's WHEN
cannot express on PostgreSQL. `cached_under` caches under several counters at once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection, connections

from .audit_chain import LOCK_KEY

logger = logging.getLogger(__name__)

T = TypeVar("T")
TABLE = "core_dataversion"
PREFIX = "pv_"
TIMEOUT = 600  # seconds; entries of an older version are never read again and expire


@dataclass(frozen=True)
class Tracked:
    """A table a group reads; `columns`: only UPDATEs changing one of them matter (none: all)."""

    table: str
    columns: tuple[str, ...] = ()


GROUPS: dict[str, dict[str, Tracked]] = {}


@dataclass(frozen=True)
class Keyed:
    """Writes to `table` bump the counters `<prefix>:<x>` of every x that `ids` selects.

    `ids` is a query selecting one column named `x`, where `{row}` stands for the written row
    (old and new on an update): "SELECT {row}.application_id AS x" or "SELECT application_id AS x
    FROM cpo_agreement WHERE id = {row}.agreement_id". `postgres_ids` replaces it on PostgreSQL
    when the SQL differs (a guarded cast, say)."""

    prefix: str
    table: str
    ids: str
    postgres_ids: str = ""

    def query(self, row: str, *, postgres: bool) -> str:
        return ((self.postgres_ids if postgres else "") or self.ids).replace("{row}", row)


KEYED: dict[tuple[str, str, str], Keyed] = {}


def track(group: str, *tables: str | Tracked) -> None:
    """Declare tables whose writes change what the group's cached pages show."""
    for table in tables:
        tracked = table if isinstance(table, Tracked) else Tracked(table)
        GROUPS.setdefault(group, {})[tracked.table] = tracked


def track_keyed(prefix: str, table: str, ids: str, *, postgres_ids: str = "") -> None:
    """Declare that writes to `table` change what the objects' pages cached under `<prefix>:<id>`
    show (see `Keyed`)."""
    keyed = Keyed(prefix, table, ids, postgres_ids)
    KEYED[(prefix, table, ids)] = keyed


def current_versions(
    names: Iterable[str], *, also: str = "", params: Iterable[Any] = ()
) -> dict[str, int] | None:
    """The counters of `names` (groups or `<prefix>:<id>`), in one query; None inside a
    transaction. A counter not created yet is created now at a random value (a write would have
    done the same): the next write to its tables moves it, so a page cached under it from data
    read after this call is never served once that write has committed.

    `also`: a query (with `params`) selecting one more name, read in the same query when it
    exists (e.g. the counter of a file's organisation, before the file itself is read)."""
    if connection.in_atomic_block:
        return None
    names = list(dict.fromkeys(names))
    marks = ", ".join(["%s"] * len(names) + ([f"({also})"] if also else []))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, n FROM {TABLE} WHERE name IN ({marks})", [*names, *params])
        found = {str(name): int(n) for name, n in cursor.fetchall()}
        missing = [name for name in names if name not in found]
        if missing:
            for name in missing:
                cursor.execute(
                    f"INSERT INTO {TABLE} (name, n) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                    [name, secrets.randbits(50)],
                )
            marks = ", ".join(["%s"] * len(missing))
            cursor.execute(f"SELECT name, n FROM {TABLE} WHERE name IN ({marks})", missing)
            found |= {str(name): int(n) for name, n in cursor.fetchall()}
    return found


def current_version(group: str) -> int | None:
    """The group's counter, or None when it must not be used: inside a transaction, or before
    any write created it."""
    if connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT n FROM {TABLE} WHERE name = %s", [group])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def cache_key(group: str, version: int, parts: Iterable[object]) -> str:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"pluriel:{group}:{version}:{digest}"


def cached(
    group: str, parts: Iterable[object], compute: Callable[[], T], *, timeout: int = TIMEOUT
) -> T:
    """compute(), or what it returned for the same `parts` under the group's current version.

    `parts` must name everything the result depends on besides the group's tables: the page, the
    language, the query string, whose scope (a user id, or a fingerprint shared by users who see
    the same thing)."""
    return cached_at(group, current_version(group), parts, compute, timeout=timeout)


def version_key(group: str, version: int | None, parts: Iterable[object]) -> str | None:
    """The key of `parts` under a version read by `current_version` (None: do not cache)."""
    return None if version is None else cache_key(group, version, parts)


def cached_at(
    group: str,
    version: int | None,
    parts: Iterable[object],
    compute: Callable[[], T],
    *,
    timeout: int = TIMEOUT,
) -> T:
    """`cached` under a version the caller read already (one read for several parts of a page)."""
    if version is None:
        return compute()
    key = cache_key(group, version, parts)
    try:
        hit = cache.get(key)
    except Exception:  # a cache outage slows pages down, never breaks them
        logger.warning("cache read failed for %s", key, exc_info=True)
        return compute()
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    value = compute()
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.warning("cache write failed for %s", key, exc_info=True)
    return value


def cached_under(
    names: Iterable[str],
    parts: Iterable[object],
    compute: Callable[[], T],
    *,
    timeout: int = TIMEOUT,
) -> T:
    """`cached` under several counters (groups and `<prefix>:<id>`, read in one query): the key
    holds each name with its value, so a page keyed on a set of counters (the user's
    organisations, say) is never served for another set, nor once one of them has moved."""
    versions = current_versions(names)
    if versions is None:
        return compute()
    stamp = ";".join(f"{name}={n}" for name, n in sorted(versions.items()))
    return cached_at("under", 0, (stamp, *parts), compute, timeout=timeout)


def renew_versions() -> None:
    """Give every counter (groups and objects) a new random value (after a restore: the cache may hold entries
    computed under the restored values from data that is gone)."""
    # One statement (a counter per file makes tens of thousands of rows), a random value per row.
    if connection.vendor == "postgresql":
        value = "floor(random() * 1e15)::bigint"
    else:
        value = "abs(random() % 1000000000000000)"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET n = {value}")


# --- triggers -------------------------------------------------------------------------------------

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION core_data_version_bump() RETURNS trigger AS $$
DECLARE
  flag text := 'pluriel_version.' || TG_ARGV[0];
BEGIN
  -- Deferred to the commit; once per transaction and group. First the lock the audit chain's
  -- seal takes at commit too (core.audit_chain): a transaction holding it bumps every group and
  -- seals its audit rows, so two transactions never wait on these in opposite orders.
  IF current_setting(flag, true) IS DISTINCT FROM 'bumped' THEN
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    INSERT INTO {TABLE} (name, n) VALUES (TG_ARGV[0], floor(random() * 1e15)::bigint)
      ON CONFLICT (name) DO UPDATE SET n = {TABLE}.n + 1;
    PERFORM set_config(flag, 'bumped', true);
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


PENDING = "core_dataversion_pending"
PENDING_TRIGGER = f"{PREFIX}pending_bump"
# Keyed counters on PostgreSQL: a statement-level trigger finds, in one set-based query over the
# statement's transition table, the counters its rows change and notes each once per transaction
# in PENDING (ON CONFLICT DO NOTHING); a deferred trigger on PENDING bumps each noted counter at
# commit, after the same advisory lock as the groups, and forgets the note. A COPY of 100 000 rows
# costs one query, not 100 000 (a per-row deferred trigger ran a dynamic query per row at commit).
POSTGRES_PENDING_TABLE = f"""
CREATE UNLOGGED TABLE IF NOT EXISTS {PENDING} (
  xact bigint NOT NULL DEFAULT txid_current(),
  name varchar(100) NOT NULL,
  PRIMARY KEY (xact, name)
);
"""
POSTGRES_KEYED_FUNCTION = f"""
CREATE OR REPLACE FUNCTION core_data_version_note_keyed() RETURNS trigger AS $$
BEGIN
  -- TG_ARGV[0]: the counters' prefix; TG_ARGV[1]: a query selecting the ids (column x) that the
  -- statement's rows change, over its transition tables.
  EXECUTE format(
    'INSERT INTO {PENDING} (name) SELECT DISTINCT %L || '':'' || CAST(x AS text)'
    ' FROM (%s) pv_ids WHERE x IS NOT NULL ON CONFLICT DO NOTHING', TG_ARGV[0], TG_ARGV[1]);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION core_data_version_bump_pending() RETURNS trigger AS $$
BEGIN
  -- Deferred to the commit, like core_data_version_bump, and after the same advisory lock.
  IF current_setting('pluriel_version._keyed', true) IS DISTINCT FROM 'locked' THEN
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    PERFORM set_config('pluriel_version._keyed', 'locked', true);
  END IF;
  INSERT INTO {TABLE} (name, n) VALUES (NEW.name, floor(random() * 1e15)::bigint)
    ON CONFLICT (name) DO UPDATE SET n = {TABLE}.n + 1;
  DELETE FROM {PENDING} WHERE xact = NEW.xact AND name = NEW.name;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
POSTGRES_PENDING_TRIGGER = (
    f"CREATE CONSTRAINT TRIGGER {PENDING_TRIGGER} AFTER INSERT ON {PENDING}"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
    " EXECUTE FUNCTION core_data_version_bump_pending();"
)


def _keyed_name(keyed: Keyed, suffix: str) -> str:
    digest = hashlib.sha256(f"{keyed.ids}\x1f{keyed.postgres_ids}".encode()).hexdigest()[:6]
    name = f"{PREFIX}k_{keyed.prefix}_{keyed.table}_{digest}_{suffix}"
    if len(name) > 63:
        raise ValueError(f"trigger name too long: {name}")
    return name


def _keyed_ids(keyed: Keyed, rows: Iterable[str], *, postgres: bool) -> str:
    """The distinct ids (as text) that the rows' writes touch."""
    union = " UNION ".join(keyed.query(row, postgres=postgres) for row in rows)
    return f"SELECT DISTINCT CAST(x AS text) AS x FROM ({union}) s WHERE x IS NOT NULL"


def postgres_keyed_statements(keyed: Keyed) -> dict[str, str]:
    """Statement-level triggers, one per event, reading the statement's transition tables."""
    statements = {}
    for suffix, event, tables in (
        ("i", "INSERT", {"NEW": "pv_new"}),
        ("u", "UPDATE", {"OLD": "pv_old", "NEW": "pv_new"}),
        ("d", "DELETE", {"OLD": "pv_old"}),
    ):
        rows = " UNION ALL ".join(
            f"SELECT pv_k.x FROM {table} pv_row"
            f" CROSS JOIN LATERAL ({keyed.query('pv_row', postgres=True)}) pv_k"
            for table in tables.values()
        )
        referencing = " ".join(f"{kind} TABLE AS {table}" for kind, table in tables.items())
        name = _keyed_name(keyed, suffix)
        statements[name] = (
            f"CREATE TRIGGER {name} AFTER {event} ON {keyed.table}"
            f" REFERENCING {referencing} FOR EACH STATEMENT"
            " EXECUTE FUNCTION core_data_version_note_keyed"
            f"('{keyed.prefix}', '{rows.replace(chr(39), chr(39) * 2)}');"
        )
    return statements


def sqlite_keyed_statements(keyed: Keyed) -> dict[str, str]:
    statements = {}
    for suffix, event, rows in (
        ("i", "INSERT", ["NEW"]),
        ("d", "DELETE", ["OLD"]),
        ("u", "UPDATE", ["OLD", "NEW"]),
    ):
        ids = _keyed_ids(keyed, rows, postgres=False)
        names = f"SELECT '{keyed.prefix}:' || x AS name FROM ({ids})"
        name = _keyed_name(keyed, suffix)
        statements[name] = (
            f"CREATE TRIGGER {name} AFTER {event} ON {keyed.table} BEGIN"
            f" INSERT OR IGNORE INTO {TABLE} (name, n)"
            f" SELECT name, abs(random() % 1000000000000000) FROM ({names});"
            f" UPDATE {TABLE} SET n = n + 1 WHERE name IN ({names}); END;"
        )
    return statements


def _changed(columns: tuple[str, ...], *, postgres: bool) -> str:
    if postgres:
        old = ", ".join(f"OLD.{c}" for c in columns)
        new = ", ".join(f"NEW.{c}" for c in columns)
        return f"ROW({old}) IS DISTINCT FROM ROW({new})"
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


def _name(group: str, tracked: Tracked, suffix: str) -> str:
    """The trigger's name says what it does (its columns' digest included): an unchanged name is
    an unchanged trigger."""
    columns = hashlib.sha256(",".join(tracked.columns).encode()).hexdigest()[:6]
    name = f"{PREFIX}{group}_{tracked.table}_{columns}_{suffix}"
    if len(name) > 63:  # PostgreSQL's limit
        raise ValueError(f"trigger name too long: {name}")
    return name


def postgres_statements(group: str, tracked: Tracked) -> dict[str, str]:
    """{trigger name: CREATE statement} of one tracked table."""
    events = {"w": ("INSERT OR UPDATE OR DELETE", "")}
    if tracked.columns:
        when = f"WHEN ({_changed(tracked.columns, postgres=True)}) "
        events = {"w": ("INSERT OR DELETE", ""), "u": ("UPDATE", when)}
    statements = {}
    for suffix, (event, when) in events.items():
        name = _name(group, tracked, suffix)
        statements[name] = (
            f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {tracked.table}"
            f" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW {when}"
            f"EXECUTE FUNCTION core_data_version_bump('{group}');"
        )
    return statements


def sqlite_statements(group: str, tracked: Tracked) -> dict[str, str]:
    body = (
        f"BEGIN INSERT OR IGNORE INTO {TABLE} (name, n)"
        f" VALUES ('{group}', abs(random() % 1000000000000000));"
        f" UPDATE {TABLE} SET n = n + 1 WHERE name = '{group}'; END;"
    )
    when = f" WHEN {_changed(tracked.columns, postgres=False)}" if tracked.columns else ""
    events = {"i": ("INSERT", ""), "d": ("DELETE", ""), "u": ("UPDATE", when)}
    statements = {}
    for suffix, (event, condition) in events.items():
        name = _name(group, tracked, suffix)
        statements[name] = (
            f"CREATE TRIGGER {name} AFTER {event} ON {tracked.table}{condition} {body}"
        )
    return statements


def _existing_triggers(cursor: Any, vendor: str) -> dict[str, str]:
    """{trigger: table} of the triggers this module installed."""
    if vendor == "postgresql":
        cursor.execute(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal"
        )
    else:
        cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
    return {
        str(name): str(table) for name, table in cursor.fetchall() if str(name).startswith(PREFIX)
    }


def _drop(cursor: Any, vendor: str, name: str, table: str) -> None:
    on = f" ON {table}" if vendor == "postgresql" else ""
    cursor.execute(f"DROP TRIGGER IF EXISTS {name}{on}")


def drop_triggers(using: str = "default", **kwargs: Any) -> None:
    """Before `migrate` on SQLite: drop this module's triggers, so that a table rebuild does not
    meet them (install_triggers puts them back)."""
    conn = connections[using]
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cursor:
        for name, table in _existing_triggers(cursor, conn.vendor).items():
            _drop(cursor, conn.vendor, name, table)


def install_triggers(using: str = "default", **kwargs: Any) -> None:
    """After `migrate` (and a test flush): the triggers of every tracked table that exists; the
    ones no longer wanted are dropped, the ones in place are left alone (no table lock)."""
    conn = connections[using]
    if conn.vendor not in ("postgresql", "sqlite"):
        return
    tables = set(conn.introspection.table_names())
    if TABLE not in tables:
        return
    postgres = conn.vendor == "postgresql"
    wanted: dict[str, str] = {}
    for group, tracked_tables in GROUPS.items():
        for tracked in tracked_tables.values():
            if tracked.table in tables:
                wanted |= (postgres_statements if postgres else sqlite_statements)(group, tracked)
    for keyed in KEYED.values():
        if keyed.table in tables:
            wanted |= (postgres_keyed_statements if postgres else sqlite_keyed_statements)(keyed)
    if postgres:
        wanted[PENDING_TRIGGER] = POSTGRES_PENDING_TRIGGER
    with conn.cursor() as cursor:
        if postgres:
            cursor.execute(POSTGRES_FUNCTION)
            cursor.execute(POSTGRES_PENDING_TABLE)
            cursor.execute(POSTGRES_KEYED_FUNCTION)
        existing = _existing_triggers(cursor, conn.vendor)
        for name, table in existing.items():
            if name not in wanted:
                _drop(cursor, conn.vendor, name, table)
        if postgres:  # the per-row keyed trigger of before (its triggers are gone now)
            cursor.execute("DROP FUNCTION IF EXISTS core_data_version_bump_keyed()")
        for name, statement in wanted.items():
            if name not in existing:
                cursor.execute(statement)
