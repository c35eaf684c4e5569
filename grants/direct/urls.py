"""Pages of direct awards (hors appel) and multi-year support, under /hors-appel/ (French slugs)."""

from django.urls import path

from . import views as direct

app_name = "direct"
urlpatterns = [
    path("", direct.direct_award_list, name="list"),
    path("nouvelle/", direct.direct_award_create, name="create"),
    path("pluriannuel/", direct.multi_year_overview, name="multi_year_overview"),
    path(
        "pluriannuel/programmes/<int:pk>/", direct.multi_year_programme, name="multi_year_programme"
    ),
]
