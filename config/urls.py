from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("api/", include("config.api_urls")),
    path("", include("core.urls")),
    path("", include("calls.urls")),
    path("", include("grants.urls")),
    path("hors-appel/", include("grants.direct.urls")),
    path("anti-appels/", include("grants.anticall.urls")),
    path("", include("grants.solutions.urls")),
    path("conventions/", include("cpo.urls")),
    path("finances/", include("finance.urls")),
    path("pilotage/", include("reporting.urls")),
    path("contrats/", include("reporting.contracts.urls")),
    path("donnees/", include("reporting.urls_public")),
]
