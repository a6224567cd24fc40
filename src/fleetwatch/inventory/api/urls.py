from django.urls import path

import fleetwatch.api.converters  # noqa: F401  (registers <id:...>)
from fleetwatch.inventory.api import views

urlpatterns = [
    path("", views.DeviceListView.as_view(), name="device-list"),
    path("<id:pk>/", views.DeviceDetailView.as_view(), name="device-detail"),
    path("<id:pk>/incidents/", views.DeviceIncidentsView.as_view(), name="device-incidents"),
    path("<id:pk>/link/", views.DeviceLinkView.as_view(), name="device-link"),
    path("<id:pk>/unlink/", views.DeviceUnlinkView.as_view(), name="device-unlink"),
]
