"""``/api/``: the metadata document, the schema, and the v1 and v2 APIs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from fleetwatch.api import converters  # noqa: F401  (registers <id:...> before the routes)
from fleetwatch.api.views import MetadataView, SwaggerView

urlpatterns = [
    path("", MetadataView.as_view(), name="api-metadata"),
    path("schema/", SpectacularAPIView.as_view(api_version="v2"), name="schema"),
    path("v1/", include(("fleetwatch.api.urls_v1", "v1"), namespace="v1")),
    path("v2/", include(("fleetwatch.api.urls_v2", "v2"), namespace="v2")),
    path("v2/schema/", SpectacularAPIView.as_view(api_version="v2"), name="schema-v2"),
    path(
        "v2/schema/swagger-ui/",
        SwaggerView.as_view(url_name="schema-v2"),
        name="swagger-ui",
    ),
]
