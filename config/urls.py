from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from core import views as core_views
from core.views_security import (
    PasskeyAuthenticationCompleteView,
    PasskeyRegistrationCompleteView,
)

urlpatterns = [
    path("admin/", admin.site.urls),
    # Django's language switch, which also keeps a signed-in person's choice on their account.
    path("i18n/setlang/", core_views.set_language, name="set_language"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    # django-otp-webauthn's registration and authentication with audit rows; its other views as
    # they are.
    path(
        "compte/securite/passkeys/registration/complete/",
        PasskeyRegistrationCompleteView.as_view(),
    ),
    path(
        "compte/securite/passkeys/authentication/complete/",
        PasskeyAuthenticationCompleteView.as_view(),
    ),
    path(
        "compte/securite/passkeys/", include("django_otp_webauthn.urls", namespace="otp_webauthn")
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its initialisation as a script file (no inline script: CSP).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="drf_spectacular_csp/swagger_ui.html"
        ),
        name="api-docs",
    ),
    # ReDoc's bundle injects inline styles and starts from an inline script: the only page allowed.
    path(
        "api/redoc/",
        csp_update(
            {
                "script-src": [UNSAFE_INLINE],
                "style-src": [UNSAFE_INLINE],
                "worker-src": [SELF, "blob:"],
            }
        )(SpectacularRedocView.as_view(url_name="api-schema")),
        name="api-redoc",
    ),
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
    path("", include("reporting.urls_directory")),
    path("", include("directory.urls")),
    path("vos-donnees/", include("reporting.urls_privacy")),
]

# The bare view of bench/load.py (the ceiling of the stack); never on unless BENCH_VIEWS is set.
if settings.BENCH_VIEWS:
    urlpatterns.append(path("", include("config.bench")))
