"""Pages of the anti-call (anti-appel à projets), under /anti-appels/ (French slugs).

The candidacy page is /anti-appels/structures/<id>/: grants.anticall.services links there in its
notifications."""

from django.urls import path

from . import views

app_name = "anticall"
urlpatterns = [
    path("", views.anticall_list, name="anticall_list"),
    path("<int:pk>/", views.anticall_detail, name="anticall_detail"),
    path("besoins/<int:pk>/", views.need_detail, name="need_detail"),
    path("besoins/<int:pk>/publier/", views.need_publish, name="need_publish"),
    path("structures/<int:pk>/", views.candidacy_detail, name="candidacy_detail"),
    path(
        "structures/<int:pk>/actions/<str:name>/",
        views.candidacy_transition,
        name="candidacy_transition",
    ),
    path(
        "structures/<int:pk>/accompagnement/", views.candidacy_coaching, name="candidacy_coaching"
    ),
    path(
        "structures/<int:pk>/livrables/", views.candidacy_deliverable, name="candidacy_deliverable"
    ),
    path(
        "structures/<int:pk>/livrables/<int:deliverable_pk>/",
        views.deliverable_download,
        name="deliverable_download",
    ),
    path("mes-invitations/", views.my_invitations, name="my_invitations"),
]
