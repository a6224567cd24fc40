"""Every ``incidents/`` route once, with the API versions that serve it.

v1 serves exactly the routes of the Argus v1 endpoint document; v2 those of Argus 2.10 plus
upsert and bulk ingest. ``urls_v1`` and ``urls_v2`` are built from this one list, so a route
shared by both cannot drift between them.
"""

from django.urls import URLPattern, path

from fleetwatch.incidents.api import bulk
from fleetwatch.incidents.api import views as v

V1, V2 = "v1", "v2"
BOTH = (V1, V2)

# (route, view, name, versions)
ROUTES = [
    ("", v.IncidentListView.as_view(), "incident-list", BOTH),
    ("mine/", v.MineView.as_view(), "incident-mine", BOTH),
    ("open/", v.OpenListView.as_view(), "incident-open", (V1,)),
    ("open+unacked/", v.OpenListView.as_view(unacked_only=True), "incident-open-unacked", (V1,)),
    ("metadata/", v.MetadataV1View.as_view(), "incident-metadata", (V1,)),
    ("upsert/", bulk.UpsertView.as_view(), "incident-upsert", (V2,)),
    ("bulk/", bulk.BulkIngestView.as_view(), "incident-bulk", (V2,)),
    ("events/", v.AllEventsView.as_view(), "event-list", (V2,)),
    ("acks/bulk/", bulk.BulkAckView.as_view(), "ack-bulk", (V2,)),
    ("events/bulk/", bulk.BulkEventView.as_view(), "event-bulk", (V2,)),
    ("ticket_url/bulk/", bulk.BulkTicketUrlView.as_view(), "ticket-url-bulk", (V2,)),
    ("sources/", v.SourceListView.as_view(), "source-list", BOTH),
    ("sources/heartbeat/", v.HeartbeatView.as_view(), "source-heartbeat", (V2,)),
    ("sources/<int:pk>/", v.SourceDetailView.as_view(), "source-detail", (V2,)),
    ("source-types/", v.SourceTypeListView.as_view(), "source-type-list", (V2,)),
    (
        "source-types/<str:name>/",
        v.SourceTypeDetailView.as_view(),
        "source-type-detail",
        (V2,),
    ),
    ("<int:pk>/", v.IncidentDetailView.as_view(), "incident-detail", BOTH),
    ("<int:pk>/ticket_url/", v.TicketUrlView.as_view(), "incident-ticket-url", BOTH),
    ("<int:pk>/events/", v.IncidentEventsView.as_view(), "incident-events", BOTH),
    (
        "<int:pk>/events/<int:event_pk>/",
        v.IncidentEventDetailView.as_view(),
        "incident-event-detail",
        BOTH,
    ),
    ("<int:pk>/acks/", v.IncidentAcksView.as_view(), "incident-acks", BOTH),
    ("<int:pk>/acks/<int:ack_pk>/", v.IncidentAckDetailView.as_view(), "incident-ack-detail", BOTH),
    ("<int:pk>/tags/", v.IncidentTagsView.as_view(), "incident-tags", (V2,)),
    ("<int:pk>/tags/<str:tag>/", v.IncidentTagDetailView.as_view(), "incident-tag-detail", (V2,)),
]


def urlpatterns_for(version: str) -> list[URLPattern]:
    """The routes ``version`` serves, in the order of ``ROUTES``."""
    return [
        path(route, view, name=name)
        for route, view, name, versions in ROUTES
        if version in versions
    ]
