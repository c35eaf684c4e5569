"""Pages of the call for solutions (appel à solutions). Included at the site root: the results
live beside the call (/appels/<id>/resultats/, linked from notifications), the rest under
/appels-a-solutions/."""

from django.urls import path

from . import views, views_votes

app_name = "solutions"
urlpatterns = [
    path("appels/<int:call_id>/resultats/", views.results, name="results"),
    path("appels-a-solutions/importer/", views.import_pb, name="import_pb"),
    path("appels-a-solutions/mes-panels/", views.my_panels, name="my_panels"),
    path("appels-a-solutions/<int:call_id>/", views.solutions_hub, name="hub"),
    path(
        "appels-a-solutions/<int:call_id>/proposer/",
        views.challenge_propose_view,
        name="challenge_propose",
    ),
    path(
        "appels-a-solutions/<int:call_id>/proposer/merci/",
        views.challenge_thanks,
        name="challenge_thanks",
    ),
    path(
        "appels-a-solutions/<int:call_id>/solutions-attendues/",
        views.challenge_list,
        name="challenge_list",
    ),
    path(
        "appels-a-solutions/<int:call_id>/solutions-attendues/<int:pk>/moderer/",
        views.challenge_moderate_view,
        name="challenge_moderate",
    ),
    path("appels-a-solutions/<int:call_id>/panel/", views.panel_manage, name="panel_manage"),
    path("appels-a-solutions/<int:call_id>/vote/", views.vote, name="vote"),
    path(
        "appels-a-solutions/<int:call_id>/repartition/calculer/",
        views.allocation_compute,
        name="allocation_compute",
    ),
    path(
        "appels-a-solutions/<int:call_id>/repartition/<int:run_id>/retenir/",
        views.allocation_decide,
        name="allocation_decide",
    ),
    path(
        "appels-a-solutions/<int:call_id>/repartition/<int:run_id>/publier/",
        views.allocation_publish,
        name="allocation_publish",
    ),
    path(
        "appels-a-solutions/<int:call_id>/charger-un-vote/", views_votes.vote_load, name="vote_load"
    ),
    path(
        "appels-a-solutions/<int:call_id>/charger-un-vote/<int:pk>/",
        views_votes.vote_load_map,
        name="vote_load_map",
    ),
    path("appels-a-solutions/<int:call_id>/election.pb", views.export_pb, name="export_pb"),
    path(
        "appels-a-solutions/<int:call_id>/evaluation/<int:year>/",
        views.panel_evaluation,
        name="panel_evaluation",
    ),
]
