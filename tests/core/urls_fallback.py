"""Stand-in URL names for pages of other apps that base.html links to, used by tests/core only
while those apps have not wired their URLs yet (see tests/core/conftest.py)."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def _stub(request, *args, **kwargs):
    return HttpResponse("stub")


calls_patterns = ([path("appels/", _stub, name="call_list")], "calls")
grants_patterns = (
    [
        path("dossiers/", _stub, name="my_applications"),
        path("instruction/", _stub, name="queue"),
        path("comites/", _stub, name="committee_list"),
    ],
    "grants",
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("core.urls")),
    path("", include(calls_patterns)),
    path("", include(grants_patterns)),
]
