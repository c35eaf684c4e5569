from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    """The payment side: fiscal years, payment runs and their approvals, exports to the accounting
    system, confirmation files. Reacts to the agreement side through hooks `cpo` and `core` own."""

    name = "finance"
    verbose_name = _("Paiements")

    def ready(self) -> None:
        from core.services import register_bank_details_hook
        from cpo.hooks import register_agreement_stopped_hook

        from . import audit_actions, confirmations, privacy  # noqa: F401
        from .services import bank_details_changed, instalments_withdraw_from_open_runs

        register_bank_details_hook(bank_details_changed)
        register_agreement_stopped_hook(instalments_withdraw_from_open_runs)
        privacy.register()  # retention rules of bank details (core.privacy)
        track_instalment_tables()


def track_instalment_tables() -> None:
    """The tables the cached instalment list reads (core.data_version, group "instalments"): the
    instalments, their agreements, years, funders and beneficiaries, the runs they are in, and
    the filter form's choices (programmes, funders, budget lines)."""
    from calls.models import Programme
    from core.data_version import track
    from core.models import BudgetLine, Funder, Organisation
    from cpo.models import Agreement, AgreementFunder, AgreementYear, Instalment

    from .models import PaymentRun, PaymentRunItem

    models = [
        Instalment,
        Agreement,
        AgreementYear,
        AgreementFunder,
        PaymentRun,
        PaymentRunItem,
        Programme,
        Funder,
        BudgetLine,  # the filter form's choices
        Organisation,
    ]
    track("instalments", *(m._meta.db_table for m in models))
