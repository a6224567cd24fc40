"""``/api/v1/incidents/`` routes, exactly those of the Argus v1 endpoint document."""

from django.urls import path

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
    path("<int:pk>/", v.IncidentDetailView.as_view(), name="incident-detail"),
    path("<int:pk>/ticket_url/", v.TicketUrlView.as_view(), name="incident-ticket-url"),
    path("<int:pk>/events/", v.IncidentEventsView.as_view(), name="incident-events"),
    path(
        "<int:pk>/events/<int:event_pk>/",
        v.IncidentEventDetailView.as_view(),
        name="incident-event-detail",
    ),
    path("<int:pk>/acks/", v.IncidentAcksView.as_view(), name="incident-acks"),
    path(
        "<int:pk>/acks/<int:ack_pk>/", v.IncidentAckDetailView.as_view(), name="incident-ack-detail"
    ),
]
