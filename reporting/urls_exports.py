"""/pilotage/exports/ (namespace "reporting", included by reporting.urls)."""

from django.urls import path

from . import views_exports

urlpatterns: list = [
    path("", views_exports.export_index, name="exports"),
    path(
        "modeles/<int:pk>/supprimer/",
        views_exports.export_template_remove,
        name="export_template_delete",
    ),
    path("<slug:slug>/", views_exports.export_form, name="export_form"),
]
