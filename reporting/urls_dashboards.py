"""Dashboards (« Pilotage »), mounted at /pilotage/ in the "reporting" namespace."""

from django.urls import path

from . import views_dashboards as views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("montants/", views.money, name="dashboard_money"),
    path("enveloppes/", views.envelopes, name="dashboard_envelopes"),
    path("restes-a-payer/", views.forecast, name="dashboard_forecast"),
    path("delais/", views.times, name="dashboard_times"),
    path("quartiers/", views.neighbourhoods, name="dashboard_neighbourhoods"),
    path("pluriannualite-et-habitants/", views.security, name="dashboard_security"),
]
