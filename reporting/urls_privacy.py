"""The register of processing in ODS and PDF, under /vos-donnees/ beside core's CSV."""

from django.urls import path

from . import views_privacy

app_name = "privacy_register"
urlpatterns = [
    path("registre.ods", views_privacy.processing_register_ods, name="ods"),
    path("registre.pdf", views_privacy.processing_register_pdf, name="pdf"),
]
