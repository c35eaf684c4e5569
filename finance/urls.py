"""The finance workspace (« Finances »), under /finances/ (included in config/urls.py): dashboard,
instalments, payment runs, confirmation files, fiscal years, recoveries."""

from django.urls import path

from finance.views import runs as finance_runs
from finance.views import workspace as finance
from finance.views import years as finance_years

app_name = "finance"
urlpatterns = [
    path("", finance.dashboard, name="dashboard"),
    path("echeances/", finance.instalments, name="instalments"),
    path("lots/", finance_runs.runs, name="runs"),
    path("lots/<int:pk>/", finance_runs.run_detail, name="run_detail"),
    path("lots/<int:pk>/actions/<str:action>/", finance_runs.run_action, name="run_action"),
    path("lots/<int:pk>/fichier.<str:fmt>", finance_runs.run_download, name="run_download"),
    path("retours/", finance_runs.confirmation_list, name="confirmations"),
    path("retours/<int:pk>/", finance_runs.confirmation_detail, name="confirmation_detail"),
    path("retours/<int:pk>/appliquer/", finance_runs.confirmation_apply, name="confirmation_apply"),
    path("exercices/", finance_years.fiscal_years, name="fiscal_years"),
    path(
        "exercices/<int:year>/cloture/", finance_years.fiscal_year_close, name="fiscal_year_close"
    ),
    path("reversements/", finance_years.recoveries, name="recoveries"),
    path("reversements/<int:pk>/<str:op>/", finance_years.recovery_action, name="recovery_action"),
]
