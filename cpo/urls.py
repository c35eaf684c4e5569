"""Pages of agreements (French slugs), under /conventions/ (included in config/urls.py).

The evaluation pages (cpo.views.evaluation) have their own list, cpo/urls_evaluation.py, appended
here in the same `cpo` namespace."""

from django.urls import path

from . import views
from .views import partner_additions as views_partner_additions
from .views import partner_amendments as views_partner_amendments

app_name = "cpo"
urlpatterns = [
    path("", views.agreement_list, name="agreement_list"),
    path("paiements/", views.my_payments, name="my_payments"),
    path("nouvelle/<int:application_id>/", views.agreement_prepare, name="agreement_prepare"),
    path("<int:pk>/", views.agreement_detail, name="agreement_detail"),
    path("<int:pk>/actions/<str:name>/", views.agreement_action, name="agreement_action"),
    path("<int:pk>/avenants/", views.agreement_amend, name="agreement_amend"),
    path(
        "<int:pk>/avenants/parts/",
        views_partner_amendments.agreement_amend_parts,
        name="agreement_amend_parts",
    ),
    path(
        "<int:pk>/avenants/ajout-partenaire/",
        views_partner_additions.partner_addition_propose,
        name="partner_addition_propose",
    ),
    path(
        "ajouts-de-partenaire/<int:pk>/",
        views_partner_additions.partner_addition_detail,
        name="partner_addition",
    ),
    path(
        "ajouts-de-partenaire/<int:pk>/<str:op>/",
        views_partner_additions.partner_addition_action,
        name="partner_addition_action",
    ),
    path(
        "<int:pk>/avenants/retrait-partenaire/",
        views_partner_amendments.agreement_remove_partner,
        name="agreement_remove_partner",
    ),
    path(
        "<int:pk>/avenants/<int:amendment_pk>/pdf/",
        views.amendment_document,
        name="amendment_document",
    ),
    path(
        "<int:pk>/avenants/<int:amendment_pk>/signature/",
        views.amendment_signature_send,
        name="amendment_signature_send",
    ),
    path("<int:pk>/reversements/", views.recovery_issue, name="recovery_issue"),
    path(
        "<int:pk>/reversements/<int:recovery_pk>/<str:op>/",
        views.recovery_action,
        name="recovery_action",
    ),
    path("<int:pk>/exemplaire-signe/", views.agreement_signed_copy, name="agreement_signed_copy"),
    path("<int:pk>/signature/", views.signature_send, name="signature_send"),
    path(
        "<int:pk>/signature/<int:signature_pk>/code/",
        views.signature_code,
        name="signature_code",
    ),
    path(
        "<int:pk>/signature/<int:signature_pk>/signer/",
        views.signature_sign,
        name="signature_sign",
    ),
    path(
        "<int:pk>/signature/demandes/<int:request_pk>/document.pdf",
        views.signature_document,
        name="signature_document",
    ),
    path("<int:pk>/document.pdf", views.agreement_document, name="agreement_document"),
    path("<int:pk>/partenariat.pdf", views.partnership_document, name="partnership_document"),
]

try:
    from .urls_evaluation import urlpatterns as evaluation_urls
except ImportError:  # the evaluation pages are optional for the rest of the app
    evaluation_urls = []
urlpatterns += evaluation_urls
