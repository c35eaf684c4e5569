from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CpoConfig(AppConfig):
    """Multi-year agreements (CPO), instalments, evaluations, amendments, recoveries. The payment
    side is the `finance` app, which subscribes to the hooks in cpo.hooks."""

    name = "cpo"
    verbose_name = _("Conventions et paiements")

    def ready(self) -> None:
        from grants.history import register_history_source

        from . import audit_actions, privacy  # noqa: F401
        from .history import signature_history

        privacy.register()  # retention rule of organisations' contacts (core.privacy)
        register_history_source(signature_history)  # the file's history page shows signatures
        register_navigation_fact()
        track_file_page_tables()


def register_navigation_fact() -> None:
    """« Conventions » in a member's menu: whether their organisations have an agreement, cached
    per user under the "nav" data version (core.user_facts); an agreement never changes hands."""
    from core.data_version import Tracked, track
    from core.user_facts import GROUP, register_fact

    from .selectors import organisations_have_agreements

    track(GROUP, Tracked("cpo_agreement", columns=("organisation_id",)))
    register_fact("agreements", organisations_have_agreements)


def track_file_page_tables() -> None:
    """What the file's page (grants) shows of its agreements: the links (and their funders) and
    the signature rows of its history, under the file's counter "file:<id>" (core.data_version)."""
    from core.data_version import track_keyed
    from grants.apps import FILE, audit_ids

    agreement = "SELECT application_id AS x FROM cpo_agreement WHERE id = {id}"
    request = (
        "SELECT a.application_id AS x FROM cpo_signaturerequest r"
        " JOIN cpo_agreement a ON a.id = r.agreement_id WHERE r.id = {id}"
    )
    signature = (
        "SELECT a.application_id AS x FROM cpo_signature s"
        " JOIN cpo_signaturerequest r ON r.id = s.request_id"
        " JOIN cpo_agreement a ON a.id = r.agreement_id WHERE s.id = {id}"
    )
    track_keyed(FILE, "cpo_agreement", "SELECT {row}.application_id AS x")
    for table, column in (
        ("cpo_signaturerequest", "agreement_id"),
        ("cpo_amendment", "agreement_id"),
    ):
        track_keyed(FILE, table, agreement.replace("{id}", f"{{row}}.{column}"))
    track_keyed(FILE, "cpo_signature", request.replace("{id}", "{row}.request_id"))
    for model, ids in (
        ("agreement", agreement),
        ("signaturerequest", request),
        ("signature", signature),
    ):
        track_keyed(FILE, "core_auditlog", **audit_ids("cpo", model, ids))
