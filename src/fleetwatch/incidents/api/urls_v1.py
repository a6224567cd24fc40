"""``/api/v1/incidents/`` routes, exactly those of the Argus v1 endpoint document."""

from django.urls import path

import fleetwatch.api.converters  # noqa: F401  (registers <id:...>)
from fleetwatch.incidents.api import open_lists
from fleetwatch.incidents.api import views as v

urlpatterns = [
    path("", v.IncidentListView.as_view(), name="incident-list"),
    path("mine/", v.MineView.as_view(), name="incident-mine"),
    path("open/", open_lists.OpenListV1View.as_view(), name="incident-open"),
    path(
        "open+unacked/",
        open_lists.OpenListV1View.as_view(unacked_only=True),
        name="incident-open-unacked",
    ),
    path("metadata/", v.MetadataV1View.as_view(), name="incident-metadata"),
    path("sources/", v.SourceListView.as_view(), name="source-list"),
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
]
