"""API v2, as Argus 2.10 serves it."""

from django.urls import include, path

from fleetwatch.accounts.api.urls import v2_urlpatterns as accounts_v2

urlpatterns = [
    *accounts_v2,
    path("incidents/", include("fleetwatch.incidents.api.urls_v2")),
    path("connectors/", include("fleetwatch.connectors.api.urls")),
    path("devices/", include("fleetwatch.inventory.api.urls")),
]
