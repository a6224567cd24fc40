"""``/api/v2/incidents/`` routes, as Argus 2.10 serves them (plus upsert and bulk ingest)."""

from django.urls import path

import fleetwatch.api.converters  # noqa: F401  (registers <id:...>)
from fleetwatch.incidents.api import bulk, open_lists, schema
from fleetwatch.incidents.api import views as v

schema.annotate()  # the OpenAPI shapes of these views

urlpatterns = [
    path("", v.IncidentListView.as_view(), name="incident-list"),
    path("mine/", v.MineView.as_view(), name="incident-mine"),
    # Argus 2.x dropped these from v2; argus-api-client 0.8.0 still calls them there.
    path("open/", open_lists.OpenListV2View.as_view(), name="incident-open"),
    path(
        "open+unacked/",
        open_lists.OpenUnackedListV2View.as_view(),
        name="incident-open-unacked",
    ),
    path("upsert/", bulk.UpsertView.as_view(), name="incident-upsert"),
    path("bulk/", bulk.BulkIngestView.as_view(), name="incident-bulk"),
    path("events/", v.AllEventsView.as_view(), name="event-list"),
    path("acks/bulk/", bulk.BulkAckView.as_view(), name="ack-bulk"),
    path("events/bulk/", bulk.BulkEventView.as_view(), name="event-bulk"),
    path("ticket_url/bulk/", bulk.BulkTicketUrlView.as_view(), name="ticket-url-bulk"),
    path("sources/", v.SourceListView.as_view(), name="source-list"),
    path("sources/heartbeat/", v.HeartbeatView.as_view(), name="source-heartbeat"),
    path("sources/<id:pk>/", v.SourceDetailView.as_view(), name="source-detail"),
    path("source-types/", v.SourceTypeListView.as_view(), name="source-type-list"),
    path("source-types/<str:name>/", v.SourceTypeDetailView.as_view(), name="source-type-detail"),
    path("<id:pk>/", v.IncidentDetailView.as_view(), name="incident-detail"),
    path("<id:pk>/ticket_url/", v.TicketUrlView.as_view(), name="incident-ticket-url"),
    path("<id:pk>/events/", v.IncidentEventsView.as_view(), name="incident-events"),
    path(
        "<id:pk>/events/<id:event_pk>/",
        v.IncidentEventDetailView.as_view(),
        name="incident-event-detail",
    ),
    path("<id:pk>/acks/", v.IncidentAcksView.as_view(), name="incident-acks"),
    path(
        "<id:pk>/acks/<id:ack_pk>/", v.IncidentAckDetailView.as_view(), name="incident-ack-detail"
    ),
    path("<id:pk>/tags/", v.IncidentTagsView.as_view(), name="incident-tags"),
    path("<id:pk>/tags/<str:tag>/", v.IncidentTagDetailView.as_view(), name="incident-tag-detail"),
]
