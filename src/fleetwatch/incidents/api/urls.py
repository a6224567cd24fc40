"""Every ``incidents/`` route once, with the API versions that serve it.

v1 serves exactly the routes of the Argus v1 endpoint document; v2 those of Argus 2.10 plus
upsert and bulk ingest. ``urls_v1`` and ``urls_v2`` are built from this one list, so a route
shared by both cannot drift between them.

Ids are ``<id:...>`` (``fleetwatch.api.converters``): a number beyond a 64-bit id is no route
(404), not a database error. ``open/`` and ``open+unacked/`` are served in v2 too, paged like
the other lists: Argus 2.x dropped them, but argus-api-client 0.8.0 still calls them there.
"""

from django.urls import URLPattern, path

import fleetwatch.api.converters  # noqa: F401  (registers <id:...>)
from fleetwatch.incidents.api import bulk, open_lists, schema
from fleetwatch.incidents.api import views as v

schema.annotate()  # the OpenAPI shapes of these views (idempotent)

V1, V2 = "v1", "v2"
BOTH = (V1, V2)

# (route, view, name, versions)
ROUTES = [
    ("", v.IncidentListView.as_view(), "incident-list", BOTH),
    ("mine/", v.MineView.as_view(), "incident-mine", BOTH),
    ("open/", open_lists.OpenListV1View.as_view(), "incident-open", (V1,)),
    (
        "open+unacked/",
        open_lists.OpenListV1View.as_view(unacked_only=True),
        "incident-open-unacked",
        (V1,),
    ),
    ("open/", open_lists.OpenListV2View.as_view(), "incident-open", (V2,)),
    (
        "open+unacked/",
        open_lists.OpenUnackedListV2View.as_view(),
        "incident-open-unacked",
        (V2,),
    ),
    ("metadata/", v.MetadataV1View.as_view(), "incident-metadata", (V1,)),
    ("upsert/", bulk.UpsertView.as_view(), "incident-upsert", (V2,)),
    ("bulk/", bulk.BulkIngestView.as_view(), "incident-bulk", (V2,)),
    ("events/", v.AllEventsView.as_view(), "event-list", (V2,)),
    ("acks/bulk/", bulk.BulkAckView.as_view(), "ack-bulk", (V2,)),
    ("events/bulk/", bulk.BulkEventView.as_view(), "event-bulk", (V2,)),
    ("ticket_url/bulk/", bulk.BulkTicketUrlView.as_view(), "ticket-url-bulk", (V2,)),
    ("sources/", v.SourceListView.as_view(), "source-list", BOTH),
    ("sources/heartbeat/", v.HeartbeatView.as_view(), "source-heartbeat", (V2,)),
    ("sources/<id:pk>/", v.SourceDetailView.as_view(), "source-detail", (V2,)),
    ("source-types/", v.SourceTypeListView.as_view(), "source-type-list", (V2,)),
    (
        "source-types/<str:name>/",
        v.SourceTypeDetailView.as_view(),
        "source-type-detail",
        (V2,),
    ),
    ("<id:pk>/", v.IncidentDetailView.as_view(), "incident-detail", BOTH),
    ("<id:pk>/ticket_url/", v.TicketUrlView.as_view(), "incident-ticket-url", BOTH),
    ("<id:pk>/events/", v.IncidentEventsView.as_view(), "incident-events", BOTH),
    (
        "<id:pk>/events/<id:event_pk>/",
        v.IncidentEventDetailView.as_view(),
        "incident-event-detail",
        BOTH,
    ),
    ("<id:pk>/acks/", v.IncidentAcksView.as_view(), "incident-acks", BOTH),
    ("<id:pk>/acks/<id:ack_pk>/", v.IncidentAckDetailView.as_view(), "incident-ack-detail", BOTH),
    ("<id:pk>/tags/", v.IncidentTagsView.as_view(), "incident-tags", (V2,)),
    ("<id:pk>/tags/<str:tag>/", v.IncidentTagDetailView.as_view(), "incident-tag-detail", (V2,)),
]


def urlpatterns_for(version: str) -> list[URLPattern]:
    """The routes ``version`` serves, in the order of ``ROUTES``."""
    return [
        path(route, view, name=name)
        for route, view, name, versions in ROUTES
        if version in versions
    ]
