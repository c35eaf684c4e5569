"""Staff open-data page (« Données ouvertes »), under /pilotage/donnees-ouvertes/."""

from django.urls import path

from . import views_opendata

urlpatterns = [
    path("", views_opendata.overview, name="opendata"),
]
