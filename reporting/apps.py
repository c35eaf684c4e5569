from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    """Analytics, dashboards, open data, imports and exports."""

    name = "reporting"
    verbose_name = _("Pilotage et données")

    def ready(self) -> None:
        from . import jobs  # noqa: F401 - registers the background-job runners
        from .resources import DATASETS
        from .resources_directory import register_datasets

        register_datasets(DATASETS)
        from contracts.services_report import register_report_builder

        from .contracts.views_report import build_report

        register_report_builder(build_report)
