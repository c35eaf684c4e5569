"""Accent-insensitive search of applications (issue 16): a search column kept by triggers.

`grants_application.search_text` holds pluriel_fold(reference, title, organisation name, SIRET)
(core.search). Triggers keep it whoever writes (services, bulk loads, imports, the admin), and an
organisation renamed updates its files. PostgreSQL: extensions unaccent and pg_trgm, the IMMUTABLE
function pluriel_fold (so it can be indexed), a trigram GIN index on search_text (LIKE '%…%' and
the word-similarity operator <% for typos) and one on pluriel_fold(core_organisation.name).
SQLite: the same triggers call the Python pluriel_fold registered on each connection
(core.apps); no index (development only)."""

from importlib import import_module

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations, models

FOLD_FUNCTION = """
CREATE OR REPLACE FUNCTION pluriel_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS
$$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;
"""

POSTGRES_FORWARD = FOLD_FUNCTION + """
CREATE OR REPLACE FUNCTION grants_application_search_text() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text := pluriel_fold(concat_ws(' ', NEW.reference, NEW.title,
        (SELECT concat_ws(' ', o.name, o.siret) FROM core_organisation o
          WHERE o.id = NEW.organisation_id)));
    RETURN NEW;
END $$;
CREATE TRIGGER grants_application_search
BEFORE INSERT OR UPDATE OF reference, title, organisation_id, search_text ON grants_application
FOR EACH ROW EXECUTE FUNCTION grants_application_search_text();

CREATE OR REPLACE FUNCTION grants_organisation_search_text() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE grants_application SET search_text = '' WHERE organisation_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER grants_organisation_search
AFTER UPDATE OF name, siret ON core_organisation
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.siret IS DISTINCT FROM NEW.siret)
EXECUTE FUNCTION grants_organisation_search_text();

UPDATE grants_application SET search_text = '';
CREATE INDEX grants_application_search_trgm ON grants_application
    USING gin (search_text gin_trgm_ops);
CREATE INDEX core_organisation_name_fold_trgm ON core_organisation
    USING gin (pluriel_fold(name) gin_trgm_ops);
CREATE INDEX core_organisation_siret_prefix ON core_organisation (siret varchar_pattern_ops);
"""
POSTGRES_BACKWARD = """
DROP INDEX IF EXISTS core_organisation_siret_prefix;
DROP INDEX IF EXISTS core_organisation_name_fold_trgm;
DROP INDEX IF EXISTS grants_application_search_trgm;
DROP TRIGGER IF EXISTS grants_organisation_search ON core_organisation;
DROP FUNCTION IF EXISTS grants_organisation_search_text();
DROP TRIGGER IF EXISTS grants_application_search ON grants_application;
DROP FUNCTION IF EXISTS grants_application_search_text();
DROP FUNCTION IF EXISTS pluriel_fold(text);
"""

_SQLITE_TEXT = """pluriel_fold(NEW.reference || ' ' || NEW.title || ' ' || coalesce(
    (SELECT o.name || ' ' || o.siret FROM core_organisation o WHERE o.id = NEW.organisation_id),
    ''))"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER grants_application_search_ins AFTER INSERT ON grants_application BEGIN
        UPDATE grants_application SET search_text = {_SQLITE_TEXT} WHERE id = NEW.id; END;""",
    f"""CREATE TRIGGER grants_application_search_upd
        AFTER UPDATE OF reference, title, organisation_id, search_text ON grants_application
        BEGIN UPDATE grants_application SET search_text = {_SQLITE_TEXT} WHERE id = NEW.id; END;""",
    """CREATE TRIGGER grants_organisation_search_upd AFTER UPDATE OF name, siret ON core_organisation
        BEGIN UPDATE grants_application SET search_text = '' WHERE organisation_id = NEW.id; END;""",
    "UPDATE grants_application SET search_text = ''",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS grants_organisation_search_upd;",
    "DROP TRIGGER IF EXISTS grants_application_search_upd;",
    "DROP TRIGGER IF EXISTS grants_application_search_ins;",
]


def install(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_FORWARD)
        elif connection.vendor == "sqlite":
            # AddField of a NOT NULL column rebuilt the table on SQLite, which dropped its
            # triggers: put the state counters' back (migration 0004; the counts are unchanged).
            counters = import_module("grants.migrations.0004_application_state_counts")
            for statement in [*counters.SQLITE_BACKWARD, *counters.SQLITE_FORWARD, *SQLITE_FORWARD]:
                cursor.execute(statement)
        else:
            raise NotImplementedError(f"no search triggers for {connection.vendor}")


def remove(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_BACKWARD)
        elif connection.vendor == "sqlite":
            for statement in SQLITE_BACKWARD:
                cursor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0011_user_language_notification_message'),
        ('grants', '0006_vote_imports'),
    ]

    operations = [
        UnaccentExtension(),  # no-ops on other databases than PostgreSQL
        TrigramExtension(),
        migrations.AddField(
            model_name='application',
            name='search_text',
            field=models.TextField(blank=True, default='', editable=False, verbose_name='texte de recherche'),
        ),
        migrations.RunPython(install, remove),
    ]
