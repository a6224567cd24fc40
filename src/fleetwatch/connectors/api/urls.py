from rest_framework.routers import SimpleRouter

from fleetwatch.connectors.api.views import ConnectorViewSet

router = SimpleRouter()
router.register("", ConnectorViewSet, basename="connector")
urlpatterns = router.urls
