"""``/api/v2/connectors/``: manage connectors and read their health (staff only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from fleetwatch.connectors.api.serializers import ConnectorSerializer
from fleetwatch.connectors.models import Connector
from fleetwatch.connectors.services import CheckFailed, check_connector, delete_connector
from fleetwatch.connectors.tasks import run_now


class ConnectorViewSet(viewsets.ModelViewSet):
    queryset = Connector.objects.select_related("state").all()
    serializer_class = ConnectorSerializer
    permission_classes = [IsAdminUser]
    pagination_class = None

    def perform_destroy(self, instance):
        """204: the connector, its state and device records are gone; its source system and
        every incident stay (see ``delete_connector``)."""
        delete_connector(instance)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Make the connector due now; a worker polls it within seconds."""
        run_now(self.get_object())
        return Response({"detail": "A poll is due now."}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Log in and make one cheap call: 200 with what it saw; 400 naming the options when
        the stored ones are bad; 409 when the credentials cannot be decrypted; 502 with the
        (summarised) error when the vendor call fails; 504 when the vendor kept failing past
        ``FLEETWATCH_CONNECTOR_TEST_DEADLINE`` (10 s). Never 500."""
        try:
            seen, requests = check_connector(self.get_object())
        except CheckFailed as exc:
            if exc.kind == "options":
                return Response({"ok": False, "options": exc.options}, status=400)
            code = {"credentials": 409, "timeout": 504}.get(exc.kind, 502)
            return Response({"ok": False, "kind": exc.kind, "error": str(exc)}, status=code)
        return Response({"ok": True, "requests": requests, "seen": seen})
