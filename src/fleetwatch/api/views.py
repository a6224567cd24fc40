"""API-wide views."""

from django.conf import settings
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch import __version__
from fleetwatch.api.validation import StrictQueryParams


class MetadataView(StrictQueryParams, APIView):
    """``GET /api/``: what this server is and speaks (no authentication, as Argus)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    versioning_class = None

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
