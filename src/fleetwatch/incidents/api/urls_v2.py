"""``/api/v2/incidents/`` routes, as Argus 2.10 serves them (plus upsert and bulk ingest)."""

from fleetwatch.incidents.api.urls import urlpatterns_for

urlpatterns = urlpatterns_for("v2")
