"""API-wide views."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch import __version__
from fleetwatch.api.renderers import FastJSONRenderer
from fleetwatch.api.validation import StrictQueryParams


class MetadataView(StrictQueryParams, APIView):
    """``GET /api/``: what this server is and speaks (no authentication, as Argus)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    versioning_class = None

    @extend_schema(
        operation_id="server_metadata",
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
        auth=[],
    )
    def get(self, request):
        return Response(
            {
                "server-version": __version__,
                "server": "fleetwatch",
                "api-version": {"stable": "v2", "supported": ["v1", "v2"]},
                "jsonapi-schema": {"stable": "/api/schema/", "v2": "/api/v2/schema/"},
                "ticket_plugin": None,
                "destination_plugins": list(settings.FLEETWATCH_MEDIA),
                "page_size": {
                    "default": settings.PAGE_SIZE_DEFAULT,
                    "max": settings.PAGE_SIZE_MAX,
                },
            }
        )


class SwaggerView(SpectacularSwaggerView):
    """Swagger UI (its assets from drf-spectacular-sidecar); ``OPTIONS`` answers JSON.

    The page's only renderer is an HTML template, which has no template for DRF's ``OPTIONS``
    metadata: a 500.
    """

    def get_renderers(self) -> list:
        request = getattr(self, "request", None)
        if request is not None and request.method == "OPTIONS":
            return [FastJSONRenderer()]
        return super().get_renderers()
