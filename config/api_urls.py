"""One router for the whole API; each app registers its viewsets in its api.py."""

from django.urls import re_path
from rest_framework.routers import DefaultRouter

from calls.api import register as register_calls
from contracts.api import register as register_contracts
from core.api_views import api_not_found
from core.api_views import register as register_core
from cpo.api import register as register_cpo
from directory.api import register as register_directory
from finance.api import register as register_finance
from grants.anticall.api import register as register_anticall
from grants.api import register as register_grants
from grants.direct.api import register as register_direct
from grants.solutions.api import register as register_solutions

router = DefaultRouter()
register_core(router)
register_calls(router)
register_contracts(router)
register_grants(router)
register_direct(router)
register_anticall(router)
register_solutions(router)
register_cpo(router)
register_finance(router)
register_directory(router)

# Anything else under /api/ (unknown path, non-numeric id) is a JSON 404, not the HTML page.
urlpatterns = [*router.urls, re_path(r"^.*$", api_not_found)]
