"""The web console's routes, mounted at ``/``."""

from django.contrib.auth import views as auth_views
from django.urls import path

from fleetwatch.web import sources, views

app_name = "web"

urlpatterns = [
    path("", views.incident_list, name="incidents"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("incidents/changed/", views.incidents_changed, name="incidents-changed"),
    path("incidents/bulk/", views.incident_bulk, name="incidents-bulk"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident"),
    path("incidents/<int:pk>/<str:action>/", views.incident_action, name="incident-action"),
    path("sources/", sources.source_list, name="sources"),
    path("connectors/add/", sources.connector_add, name="connector-add"),
    path("connectors/<int:pk>/", sources.connector_edit, name="connector-edit"),
    path("connectors/<int:pk>/<str:action>/", sources.connector_action, name="connector-action"),
]
