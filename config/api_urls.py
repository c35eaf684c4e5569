"""One router for the whole API; each app registers its viewsets in its api.py."""

from rest_framework.routers import DefaultRouter

from calls.api import register as register_calls
from core.api_views import register as register_core
from grants.api import register as register_grants

router = DefaultRouter()
register_core(router)
register_calls(router)
register_grants(router)

urlpatterns = router.urls
