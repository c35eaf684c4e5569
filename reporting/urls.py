"""Reporting (« Pilotage »): dashboards, organisation pages, imports and exports for staff."""

from django.urls import include, path

app_name = "reporting"
urlpatterns = [
    path("", include("reporting.urls_dashboards")),
    path("organisations/", include("reporting.urls_organisations")),
    path("imports/", include("reporting.urls_imports")),
    path("exports/", include("reporting.urls_exports")),
    path("donnees-ouvertes/", include("reporting.urls_opendata")),
]
