"""Top-level URLs: the API versions, admin, schema and health."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import path


def still_alive(request):
    return HttpResponse(status=204)


urlpatterns = [
    path("admin/", admin.site.urls),
    path(".still-alive/", still_alive, name="health"),
]
