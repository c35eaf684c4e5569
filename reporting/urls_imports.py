"""Imports (/pilotage/imports/, namespace "reporting")."""

from django.urls import path

from . import views_imports

urlpatterns = [
    path("", views_imports.import_list, name="import_list"),
    path("nouveau/<str:kind>/", views_imports.import_new, name="import_new"),
    path("<int:pk>/", views_imports.import_detail, name="import_detail"),
    path("<int:pk>/colonnes/", views_imports.import_remap, name="import_remap"),
    path("<int:pk>/appliquer/", views_imports.import_apply, name="import_apply"),
    path("<int:pk>/rapport.csv", views_imports.import_report_csv, name="import_report_csv"),
]
