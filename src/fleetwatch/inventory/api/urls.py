from django.urls import path

from fleetwatch.inventory.api import views

urlpatterns = [
    path("", views.DeviceListView.as_view(), name="device-list"),
    path("<int:pk>/", views.DeviceDetailView.as_view(), name="device-detail"),
    path("<int:pk>/incidents/", views.DeviceIncidentsView.as_view(), name="device-incidents"),
    path("<int:pk>/link/", views.DeviceLinkView.as_view(), name="device-link"),
    path("<int:pk>/unlink/", views.DeviceUnlinkView.as_view(), name="device-unlink"),
]
