"""Top-level URLs: the API versions, admin, schema and health."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path


def still_alive(request):
    return HttpResponse(status=204)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("fleetwatch.api.urls")),
    path(".still-alive/", still_alive, name="health"),
]
