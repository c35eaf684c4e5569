"""Pages of applications (dossiers), instruction and committees (French slugs)."""

from django.urls import path

from . import views
from .views import cofunding as cofunding_views

app_name = "grants"
urlpatterns = [
    # Applicant
    path("dossiers/", views.my_applications, name="my_applications"),
    path("dossiers/nouveau/", views.application_create, name="application_create"),
    path("dossiers/<int:pk>/", views.application_detail, name="application_detail"),
    path("dossiers/<int:pk>/modifier/", views.application_edit, name="application_edit"),
    path("dossiers/<int:pk>/renouveler/", views.application_renew, name="application_renew"),
    path(
        "dossiers/<int:pk>/actions/<str:name>/",
        views.application_transition,
        name="application_transition",
    ),
    path(
        "dossiers/<int:pk>/partenariat/",
        views.application_partnership,
        name="application_partnership",
    ),
    path(
        "dossiers/invitations/<int:partner_pk>/",
        views.invitation_answer,
        name="invitation_answer",
    ),
    path(
        "dossiers/<int:pk>/pieces/<int:attachment_pk>/",
        views.attachment_download,
        name="attachment_download",
    ),
    # Instruction
    path("instruction/", views.queue, name="queue"),
    path("instruction/actions-groupees/", views.bulk_new, name="bulk_new"),
    path("instruction/actions-groupees/<int:pk>/", views.bulk_detail, name="bulk_detail"),
    path("instruction/actions-groupees/<int:pk>/relancer/", views.bulk_retry, name="bulk_retry"),
    path("instruction/actions-groupees/<int:pk>/export/", views.bulk_export, name="bulk_export"),
    path("dossiers/<int:pk>/attribuer/", views.application_assign, name="application_assign"),
    path("dossiers/<int:pk>/notes/", views.application_note, name="application_note"),
    path(
        "dossiers/<int:pk>/financeurs/<int:part_pk>/<str:name>/",
        cofunding_views.part_action,
        name="funder_part_action",
    ),
    path(
        "dossiers/<int:pk>/plan-de-financement/",
        cofunding_views.budget_revision_answer,
        name="budget_revision_answer",
    ),
    path(
        "dossiers/<int:pk>/plan-de-financement/reviser/",
        cofunding_views.budget_revision_edit,
        name="budget_revision_edit",
    ),
    path("dossiers/<int:pk>/avis/", views.application_opinion, name="application_opinion"),
    path("dossiers/<int:pk>/notation/", views.application_score, name="application_score"),
    # Committee
    path("comites/", views.committee_list, name="committee_list"),
    path("comites/<int:pk>/", views.committee_detail, name="committee_detail"),
]
