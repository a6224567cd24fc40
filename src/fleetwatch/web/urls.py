"""The web console's routes, mounted at ``/``."""

from django.contrib.auth import views as auth_views
from django.urls import path

from fleetwatch.web import (
    account,
    deliveries,
    devices,
    login,
    notif_edit,
    notifications,
    oidc,
    sources,
    views,
)

app_name = "web"

urlpatterns = [
    path("", views.incident_list, name="incidents"),
    path("login/", login.ConsoleLoginView.as_view(), name="login"),
    path("login/oidc/", oidc.login_start, name="oidc-login"),
    path("login/oidc/callback/", oidc.callback, name="oidc-callback"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("incidents/changed/", views.incidents_changed, name="incidents-changed"),
    path("incidents/bulk/", views.incident_bulk, name="incidents-bulk"),
    path("incidents/save-filter/", views.save_filter, name="save-filter"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/<str:action>/", views.incident_action, name="incident-action"),
    path("sources/", sources.source_list, name="sources"),
    path("connectors/add/", sources.connector_add, name="connector-add"),
    path("connectors/<int:pk>/", sources.connector_edit, name="connector-edit"),
    path("connectors/<int:pk>/<str:action>/", sources.connector_action, name="connector-action"),
    path("account/", account.account, name="account"),
    path("account/tokens/", account.token_create, name="token-create"),
    path("account/tokens/<str:pk>/revoke/", account.token_revoke, name="token-revoke"),
    path("account/phone-numbers/", account.phone_add, name="phone-add"),
    path("account/phone-numbers/<int:pk>/delete/", account.phone_delete, name="phone-delete"),
    path("account/time-zone/", account.time_zone, name="time-zone"),
    path("notifications/", notifications.page, name="notifications"),
    path("notifications/filters/", notifications.filter_add, name="filter-add"),
    path("notifications/filters/preview/", notifications.preview, name="filter-preview"),
    path("notifications/timeslots/", notifications.timeslot_add, name="timeslot-add"),
    path("notifications/profiles/", notifications.profile_add, name="profile-add"),
    path("notifications/maintenance/", notifications.maintenance_add, name="maintenance-add"),
    path("notifications/destinations/", notifications.destination_add, name="destination-add"),
    path("devices/", devices.device_list, name="devices"),
    path("devices/<int:pk>/", devices.device_detail, name="device"),
    path("devices/<int:pk>/<str:action>/", devices.device_link, name="device-link"),
    path("notifications/deliveries/", deliveries.delivery_log, name="deliveries"),
    path(
        "notifications/destinations/<int:pk>/test/",
        notif_edit.send_test,
        name="destination-test",
    ),
    path("notifications/<str:kind>/<int:pk>/", notif_edit.edit, name="notif-edit"),
    path("notifications/<str:kind>/<int:pk>/delete/", notif_edit.delete, name="notif-delete"),
]
