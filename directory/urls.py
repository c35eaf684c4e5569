"""Public directory (/annuaire/) and experience sheets (/experiences/); the public export of the
sheets is reporting's (/experiences/export.<format>, reporting.urls_directory)."""

from django.urls import path

from . import views

app_name = "directory"
urlpatterns = [
    path("annuaire/", views.actor_list, name="actors"),
    path("annuaire/<int:pk>/", views.actor_detail, name="actor"),
    path(
        "annuaire/organisations/<int:organisation_pk>/fiche-publique/",
        views.profile_edit,
        name="profile",
    ),
    path("experiences/", views.sheet_list, name="sheets"),
    path("experiences/mes-fiches/", views.my_sheets, name="mine"),
    path("experiences/rediger/<int:evaluation_pk>/", views.sheet_draft, name="sheet_draft"),
    path("experiences/<int:pk>/", views.sheet_detail, name="sheet"),
    path("experiences/<int:pk>/modifier/", views.sheet_edit, name="sheet_edit"),
    path("experiences/<int:pk>/publier/", views.sheet_publish, name="sheet_publish"),
    path("experiences/<int:pk>/renvoyer/", views.sheet_return, name="sheet_return"),
]
