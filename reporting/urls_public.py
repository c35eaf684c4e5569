"""Public open-data pages (no login, no personal data)."""

from django.urls import path  # noqa: F401

app_name = "opendata"
urlpatterns: list = []
