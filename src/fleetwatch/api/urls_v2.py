"""API v2, as Argus 2.10 serves it."""

from django.urls import include, path

from fleetwatch.accounts.api.urls import v2_urlpatterns as accounts_v2
from fleetwatch.notifications.api.urls import urlpatterns_for as notifications_for

urlpatterns = [
    *accounts_v2,
    *notifications_for("v2"),
    path("incidents/", include("fleetwatch.incidents.api.urls_v2")),
    path("connectors/", include("fleetwatch.connectors.api.urls")),
    path("devices/", include("fleetwatch.inventory.api.urls")),
]
