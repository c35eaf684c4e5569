"""Dashboards (« Pilotage »), mounted at /pilotage/ in the "reporting" namespace.

The views are imported on their first request, not when the URLs load: they bring pandas (~65 MB,
~2 s), which web processes that never serve a dashboard, and Celery workers, need not pay for."""

from importlib import import_module

from django.http import HttpRequest, HttpResponse
from django.urls import path


def _view(name: str):  # noqa: ANN202 - a Django view
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:  # noqa: ANN002, ANN003
        return getattr(import_module("reporting.views_dashboards"), name)(request, *args, **kwargs)

    view.__name__ = name
    return view


urlpatterns = [
    path("", _view("dashboard"), name="dashboard"),
    path("montants/", _view("money"), name="dashboard_money"),
    path("enveloppes/", _view("envelopes"), name="dashboard_envelopes"),
    path("restes-a-payer/", _view("forecast"), name="dashboard_forecast"),
    path("delais/", _view("times"), name="dashboard_times"),
    path("quartiers/", _view("neighbourhoods"), name="dashboard_neighbourhoods"),
    path("pluriannualite-et-habitants/", _view("security"), name="dashboard_security"),
]
