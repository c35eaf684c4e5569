from django.urls import path  # noqa: F401

from . import views_imports  # noqa: F401

urlpatterns: list = []
