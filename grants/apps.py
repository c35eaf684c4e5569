import importlib
from collections.abc import Iterable
from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate, pre_migrate
from django.utils.translation import gettext_lazy as _

SCOPE_COUNTS_MIGRATION = "grants.migrations.0012_application_scope_counts"


def _scope_count_triggers() -> Any:
    return importlib.import_module(SCOPE_COUNTS_MIGRATION)


def drop_sqlite_scope_triggers(using: str = "default", **kwargs: Any) -> None:
    """Before `migrate` on SQLite: drop the scope-counting triggers, which name five tables of
    three apps, so that any migration may rebuild those tables (SQLite refuses to while a trigger
    names them). Put back by install_sqlite_scope_triggers."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        _scope_count_triggers().sqlite_drop(cursor)


def install_sqlite_scope_triggers(using: str = "default", **kwargs: Any) -> None:
    """After `migrate` (and a test flush) on SQLite: install the scope-counting triggers and
    recount, if the counter table exists. PostgreSQL installs them in the migration itself."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    if "grants_applicationscopecount" not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        _scope_count_triggers().sqlite_install(cursor)


class GrantsConfig(AppConfig):
    name = "grants"
    verbose_name = _("Dossiers et décisions")

    def ready(self) -> None:
        pre_migrate.connect(drop_sqlite_scope_triggers, sender=self)
        post_migrate.connect(install_sqlite_scope_triggers, sender=self)
        from core.jobs import register_job

        from . import (
            audit_actions,  # noqa: F401
            jobs_solutions,  # noqa: F401 - registers the allocation job runner
            privacy,
        )

        privacy.register()  # retention rules and erasure holds (core.privacy)
        privacy.register_export()  # sections of a person's data export

        from .services.bulk import BULK_JOB, bulk_job_runner

        register_job(BULK_JOB)(bulk_job_runner)
        track_application_tables()
        register_navigation_fact()
        track_file_page_tables()


def register_navigation_fact() -> None:
    """« Mes invitations à prototyper » on /dossiers/: the count of the user's structures'
    anti-call invitations, cached per user under the "nav" data version (core.user_facts). It
    reads the candidacies, the organisations' SIRET and the audit rows saying a candidacy was
    invited; such a row is written with the candidacy's own change of state (apply_transition,
    one transaction), so tracking the candidacies covers it (audit rows are never changed)."""
    from core.data_version import Tracked, track
    from core.user_facts import GROUP, register_fact

    from .anticall.selectors import structure_invitations

    track(GROUP, "grants_candidacy", Tracked("core_organisation", columns=("siret",)))
    register_fact("anticall_invitations", lambda user: structure_invitations(user).count())


def shared_reference_tables() -> list[Any]:
    """What both cached families (lists of files, the file page) read besides the files: the
    users' shown names and flags, and the tables deciding who sees which file and how it reads."""
    from calls.models import Call, Programme
    from core.data_version import Tracked
    from core.models import QPV, Membership, Organisation, Pillar, RoleAssignment, TransitionTheme

    from .models import CommitteeSession

    models: list[Any] = [
        CommitteeSession,
        Call,
        Call.instructors.through,
        Programme,
        Organisation,
        Membership,
        RoleAssignment,
        RoleAssignment.territories.through,
        Pillar,
        QPV,
        TransitionTheme,
    ]
    user = Tracked(
        "core_user",
        columns=("first_name", "last_name", "email", "is_active", "is_superuser"),
    )
    return [user, *(model._meta.db_table for model in models)]


#: The counters of the cached lists of files (the queue, the API list, `/dossiers/`):
#: "filed:all" moves with the files staff may see (every row that is or was filed, and the
#: quarters, themes and partners of a filed file), "orgfiles:<id>" with every file of an
#: organisation, drafts included, and the files it is a partner of; the group "file_lists" with
#: the shared tables (calls, programmes, organisations, users, roles...). A draft saved by one
#: association moves only its own "orgfiles" counter.
FILED, FILED_ALL, ORGANISATION_FILES, FILE_LISTS = "filed", "filed:all", "orgfiles", "file_lists"


def list_counters(organisation_ids: Iterable[int], *, filed: bool) -> list[str]:
    """The counters a list of files is cached under: the shared tables, the filed files when
    the list shows a staff scope (`filed`), and each of the organisations whose files it shows."""
    names = [FILE_LISTS, *([FILED_ALL] if filed else [])]
    return names + [f"{ORGANISATION_FILES}:{pk}" for pk in sorted(organisation_ids)]


def track_application_tables() -> None:
    """The tables the cached lists of files read, by counter (core.data_version; see FILED).

    PostgreSQL allows no subquery in a trigger's WHEN, and a quarter or theme row knows its
    file's state only through its file: the keyed counters' statement-level triggers (one query
    over the statement's rows, joined to the file) say which rows matter. "filed:all" is a keyed
    counter with a constant id. A draft deleted: its links are deleted first (Django's
    collector), while the file still reads as a draft, so nothing of it moves "filed:all"."""
    from core.data_version import track, track_keyed

    from .models import Application, ApplicationPartner, ApplicationState

    app = Application._meta.db_table
    partners = ApplicationPartner._meta.db_table
    draft = ApplicationState.DRAFT
    # An update's old and new rows are both looked at: a draft submitted (new row filed) and a
    # filed file withdrawn or deleted (old row filed) move it; a draft saved or deleted does not.
    track_keyed(FILED, app, f"SELECT 'all' AS x WHERE {{row}}.state <> '{draft}'")
    of_filed_file = (
        f"SELECT 'all' AS x FROM {app} WHERE id = {{row}}.application_id AND state <> '{draft}'"
    )
    links: list[Any] = [Application.qpvs.through, Application.themes.through]
    for model in [*links, ApplicationPartner]:
        track_keyed(FILED, model._meta.db_table, of_filed_file)
    # The organisation's own files and those it is a partner of (any partnership state: the API
    # lists invited and accepted ones, `/dossiers/` accepted ones).
    track_keyed(
        ORGANISATION_FILES,
        app,
        f"SELECT {{row}}.organisation_id AS x"
        f" UNION SELECT organisation_id AS x FROM {partners} WHERE application_id = {{row}}.id",
    )
    for model in links:  # the API's lines show their ids
        track_keyed(
            ORGANISATION_FILES,
            model._meta.db_table,
            f"SELECT organisation_id AS x FROM {app} WHERE id = {{row}}.application_id"
            f" UNION SELECT organisation_id AS x FROM {partners}"
            " WHERE application_id = {row}.application_id",
        )
    track_keyed(ORGANISATION_FILES, partners, "SELECT {row}.organisation_id AS x")
    track(FILE_LISTS, *shared_reference_tables())


#: The counters of the file page's cache (grants/views/detail.py): "file:<id>" for what is the
#: file's own, "org:<id>" for what the page shows of its organisation's other rows (its documents,
#: its other filed files in the same year), and the group "file_page" for the shared tables.
FILE, ORGANISATION, FILE_PAGE = "file", "org", "file_page"
OF_ROW = "SELECT {row}.application_id AS x"


def audit_ids(app_label: str, model: str, ids: str) -> dict[str, str]:
    """`track_keyed` arguments for the audit rows of one model: `ids` selects the files of the
    object whose id is `{id}` (ends with a WHERE clause; the row's object_id, cast only when it is a number)."""
    content_type = (
        "{row}.content_type_id = (SELECT id FROM django_content_type"
        f" WHERE app_label = '{app_label}' AND model = '{model}')"
    )
    sqlite_id = "CAST({row}.object_id AS integer)"
    postgres_id = (
        "(CASE WHEN {row}.object_id ~ '^[0-9]{1,18}$' THEN CAST({row}.object_id AS bigint) END)"
    )
    return {
        "ids": f"{ids.replace('{id}', sqlite_id)} AND {content_type}",
        "postgres_ids": f"{ids.replace('{id}', postgres_id)} AND {content_type}",
    }


def track_file_page_tables() -> None:
    """What the file page shows, by counter (core.data_version). A table missing here would let
    the page be served from the cache after a change to it: tests/grants/test_file_page_cache.py
    changes each family and looks at the page again."""
    from calls.models import Call, Challenge, Need, PanelMember, ScoringCriterion
    from core.data_version import track, track_keyed
    from core.models import Funder, OrganisationDocument

    from . import models as m

    app = m.Application._meta.db_table
    track_keyed(
        FILE,
        app,
        f"SELECT {{row}}.id AS x UNION SELECT id AS x FROM {app} WHERE previous_id = {{row}}.id",
    )
    for model in (
        m.Application.qpvs.through,
        m.Application.themes.through,
        m.Application.documents.through,
        m.ApplicationYear,
        m.Objective,
        m.Indicator,
        m.BudgetItem,
        m.CompletionRequest,
        m.InstructorNote,
        m.PartnerOpinion,
        m.Score,
        m.ApplicationAttachment,
        m.PanelAssessment,
        m.FunderPart,
        m.BudgetRevision,
        m.ApplicationPartner,
    ):
        track_keyed(FILE, model._meta.db_table, OF_ROW)
    track_keyed(
        FILE,
        "core_auditlog",
        **audit_ids("grants", "application", "SELECT {id} AS x WHERE {id} IS NOT NULL"),
    )
    parts = m.FunderPart._meta.db_table
    track_keyed(
        FILE,
        "core_auditlog",
        **audit_ids(
            "grants", "funderpart", f"SELECT application_id AS x FROM {parts} WHERE id = {{id}}"
        ),
    )
    # The page shows the organisation's other *filed* files (similar_applications leaves drafts
    # out): a draft created, saved or deleted elsewhere in the organisation does not move it, so
    # an association busy with its drafts keeps its filed files' pages cached.
    track_keyed(
        ORGANISATION,
        app,
        f"SELECT {{row}}.organisation_id AS x WHERE {{row}}.state <> '{m.ApplicationState.DRAFT}'",
    )
    track_keyed(
        ORGANISATION, OrganisationDocument._meta.db_table, "SELECT {row}.organisation_id AS x"
    )
    more: list[Any] = [
        Call.eligible_qpvs.through,
        Call.eligible_pillars.through,
        ScoringCriterion,
        Challenge,
        Need,
        PanelMember,
        Funder,
    ]
    track(FILE_PAGE, *shared_reference_tables(), *(model._meta.db_table for model in more))
