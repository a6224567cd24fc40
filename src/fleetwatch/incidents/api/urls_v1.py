"""``/api/v1/incidents/`` routes, exactly those of the Argus v1 endpoint document."""

from fleetwatch.incidents.api.urls import urlpatterns_for

urlpatterns = urlpatterns_for("v1")
