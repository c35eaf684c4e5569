"""The organisation pages of « Pilotage », under /pilotage/organisations/ (namespace reporting)."""

from django.urls import path

from . import views_organisations as views

urlpatterns = [
    path("", views.organisation_search, name="organisation_search"),
    path("<int:pk>/", views.organisation_global, name="organisation_global"),
]
