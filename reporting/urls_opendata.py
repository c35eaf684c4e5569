from django.urls import path  # noqa: F401

from . import views_opendata  # noqa: F401

urlpatterns: list = []
