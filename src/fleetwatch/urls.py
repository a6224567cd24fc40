"""Top-level URLs: the API versions, admin, schema and health."""

from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found


def still_alive(request):
    return HttpResponse(status=204)


def not_found(request, exception=None):
    """JSON 404s under /api/ (an unmatched route there is an API answer, not a web page)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = not_found


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("fleetwatch.api.urls")),
    path(".still-alive/", still_alive, name="health"),
]
