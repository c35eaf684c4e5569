"""Pages of the annual evaluation, included by cpo/urls.py inside the `cpo` namespace."""

from django.urls import path

from .views import evaluation as views

urlpatterns = [
    path("evaluations/", views.evaluation_list, name="evaluation_list"),
    path(
        "<int:agreement_pk>/evaluations/<int:year>/",
        views.evaluation_detail,
        name="evaluation_detail",
    ),
]
