"""The finance workspace (« Finances »): payment runs, confirmations, fiscal years, forecasts."""

from django.urls import path  # noqa: F401

app_name = "finance"
urlpatterns: list = []
