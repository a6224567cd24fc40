"""API v1, as the Argus v1 endpoint document describes it."""

from django.urls import include, path

from fleetwatch.accounts.api.urls import v1_urlpatterns as accounts_v1
from fleetwatch.notifications.api.urls import urlpatterns_for as notifications_for

urlpatterns = [
    *accounts_v1,
    *notifications_for("v1"),
    path("incidents/", include("fleetwatch.incidents.api.urls_v1")),
]
