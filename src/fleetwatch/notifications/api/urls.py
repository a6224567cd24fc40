"""Notification routes, included at ``notificationprofiles/`` of each API version, and
``plannedmaintenance/`` (v2)."""

from django.urls import URLPattern, path

from fleetwatch.notifications.api import views as v
from fleetwatch.notifications.api.deliveries import DeliveryListView

V1, V2 = "v1", "v2"
BOTH = (V1, V2)

# (route, view, name, versions) under notificationprofiles/
ROUTES = [
    ("", v.ProfileListView.as_view(), "profile-list", BOTH),
    ("settings/", v.UserSettingsView.as_view(), "notification-settings", (V2,)),
    ("timeslots/", v.TimeslotListView.as_view(), "timeslot-list", BOTH),
    ("timeslots/<int:pk>/", v.TimeslotDetailView.as_view(), "timeslot-detail", BOTH),
    ("filters/", v.FilterListView.as_view(), "filter-list", BOTH),
    ("filters/<int:pk>/", v.FilterDetailView.as_view(), "filter-detail", BOTH),
    ("filterpreview/", v.PreviewView.as_view(), "filter-preview", BOTH),
    ("preview/", v.PreviewView.as_view(), "preview", (V2,)),
    ("destinations/", v.DestinationListView.as_view(), "destination-list", (V2,)),
    ("destinations/<int:pk>/", v.DestinationDetailView.as_view(), "destination-detail", (V2,)),
    (
        "destinations/<int:pk>/duplicate/",
        v.DestinationDuplicateView.as_view(),
        "destination-duplicate",
        (V2,),
    ),
    (
        "destinations/<int:pk>/test/",
        v.DestinationTestView.as_view(),
        "destination-test",
        (V2,),
    ),
    ("deliveries/", DeliveryListView.as_view(), "delivery-list", (V2,)),
    ("media/", v.MediaListView.as_view(), "media-list", (V2,)),
    ("media/<str:slug>/", v.MediaDetailView.as_view(), "media-detail", (V2,)),
    ("media/<str:slug>/json_schema/", v.MediaSchemaView.as_view(), "media-json-schema", (V2,)),
    ("<int:pk>/", v.ProfileDetailView.as_view(), "profile-detail", BOTH),
    ("<int:pk>/incidents/", v.ProfileIncidentsView.as_view(), "profile-incidents", BOTH),
]


def urlpatterns_for(version: str) -> list[URLPattern]:
    """The ``notificationprofiles/`` routes of ``version`` plus (v2) ``plannedmaintenance/``."""
    patterns = [
        path(f"notificationprofiles/{route}", view, name=name)
        for route, view, name, versions in ROUTES
        if version in versions
    ]
    if version == V2:
        patterns += [
            path(
                "plannedmaintenance/",
                v.MaintenanceListView.as_view(),
                name="plannedmaintenance-list",
            ),
            path(
                "plannedmaintenance/<int:pk>/",
                v.MaintenanceDetailView.as_view(),
                name="plannedmaintenance-detail",
            ),
        ]
    return patterns
