"""Export of the experience sheets (directory app): the same columns for the staff's export job
(/pilotage/exports/fiches-experience/) and the public download of the published sheets
(reporting.views_directory). The contact person appears only with their consent (the service
clears the name and e-mail without it; the column reads the consent again)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from core.models import User
from directory.models import ExperienceSheet, SheetState
from directory.selectors import sheets_visible_to
from grants.models import ApplicationKind

from .resources import (
    Column,
    DateTime,
    ExportDataset,
    ExportResource,
    Label,
    Money,
    Number,
    _lookup,
    _scoped,
)


def _with_consent(value: str | None, consent: bool | None) -> str | None:
    return value if consent else None


class ExperienceSheetResource(ExportResource):
    title = Column("title", gettext_lazy("Titre"))
    organisation = Column("organisation__name", gettext_lazy("Organisation"))
    year = Column("year", gettext_lazy("Année de l'action"), Number())
    funding_kind = Column(
        "funding_kind", gettext_lazy("Mode de financement"), Label(ApplicationKind.choices)
    )
    pillar = Column("pillar__label", gettext_lazy("Pilier"))
    themes = Column("themes__label", gettext_lazy("Thèmes de transition"), many=True)
    qpvs = Column("qpvs__code", gettext_lazy("Quartiers"), many=True)
    place = Column("place", gettext_lazy("Lieu"))
    what = Column("what", gettext_lazy("Ce qui a été fait"))
    audience = Column("audience", gettext_lazy("Pour qui"))
    beneficiaries_count = Column("beneficiaries_count", gettext_lazy("Bénéficiaires"), Number())
    results = Column("results", gettext_lazy("Résultats"))
    lessons = Column("lessons", gettext_lazy("Enseignements"))
    cost = Column("cost", gettext_lazy("Coût de l'action (€)"), Money())
    funding_amount = Column("funding_amount", gettext_lazy("Subvention (€)"), Money())
    contact_name = Column(
        "contact_name",
        gettext_lazy("Personne contact"),
        paths=("contact_name", "contact_consent"),
        combine=_with_consent,
    )
    contact_email = Column(
        "contact_email",
        gettext_lazy("E-mail de contact"),
        paths=("contact_email", "contact_consent"),
        combine=_with_consent,
    )
    state = Column("state", gettext_lazy("État"), Label(SheetState.choices))
    published_at = Column("published_at", gettext_lazy("Publiée le"), DateTime())

    class Meta:
        model = ExperienceSheet
        fields = (
            "title",
            "organisation",
            "year",
            "funding_kind",
            "pillar",
            "themes",
            "qpvs",
            "place",
            "what",
            "audience",
            "beneficiaries_count",
            "results",
            "lessons",
            "cost",
            "funding_amount",
            "contact_name",
            "contact_email",
            "state",
            "published_at",
        )
        export_order = fields


def _sheets(user: User) -> QuerySet[Any]:
    return _scoped(ExperienceSheet, sheets_visible_to(user))


EXPERIENCE_SHEETS = ExportDataset(
    key="experience_sheets",
    slug="fiches-experience",
    label=gettext_lazy("Fiches expérience"),
    description=gettext_lazy(
        "Une fiche par ligne : action, organisation, quartiers, thèmes, résultats, coût, mode "
        "de financement, état."
    ),
    file_stem="fiches-experience",
    resource=ExperienceSheetResource,
    visible=_sheets,
    ordering=("-year", "title", "pk"),
    filters={"fiscal_year": _lookup("year"), "state": _lookup("state")},
    state_choices=tuple(SheetState.choices),
    for_applicants=True,
)


def register_datasets(datasets: dict[str, ExportDataset]) -> None:
    """Called once by ReportingConfig.ready(): the sheets join the export page's datasets."""
    datasets.setdefault(EXPERIENCE_SHEETS.key, EXPERIENCE_SHEETS)
