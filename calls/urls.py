"""Public pages of calls (French slugs)."""

from django.urls import path

from . import views

app_name = "calls"
urlpatterns = [
    path("appels/", views.call_list, name="call_list"),
    path("appels/<int:pk>/", views.call_detail, name="call_detail"),
    path("appels/<int:pk>/etat/<str:name>/", views.call_transition, name="call_transition"),
]
