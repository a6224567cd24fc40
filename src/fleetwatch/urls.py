"""Top-level URLs: the API versions, admin, schema, health and the web console at ``/``."""

from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found, server_error

from fleetwatch.observability.metrics import metrics_view


def still_alive(request):
    return HttpResponse(status=204)


def not_found(request, exception=None):
    """JSON 404s under /api/ (an unmatched route there is an API answer, not a web page)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def internal_error(request):
    """JSON 500s under /api/: a client gets an object it can parse, never an HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error; see the server log."}, status=500)
    return server_error(request)


handler404 = not_found
handler500 = internal_error


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("fleetwatch.api.urls")),
    path(".still-alive/", still_alive, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("fleetwatch.web.urls")),  # the web console, last: it owns `/`
]
