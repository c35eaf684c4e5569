"""Public open-data pages (no login, no personal data), under /donnees/."""

from django.urls import path

from . import views_public

app_name = "opendata"
urlpatterns = [
    path("subventions/", views_public.grant_list, name="grants"),
    path("subventions/scdl.csv", views_public.scdl_csv, name="scdl_csv"),
    path("subventions/scdl.json", views_public.scdl_json, name="scdl_json"),
    path("subventions/pluriannuel.csv", views_public.multi_year_csv, name="multi_year_csv"),
    path("subventions/schema.json", views_public.schema, name="schema"),
]
