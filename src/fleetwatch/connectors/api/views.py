"""``/api/v2/connectors/``: manage connectors and read their health (staff only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from fleetwatch.connectors.api.serializers import ConnectorSerializer
from fleetwatch.connectors.models import Connector
from fleetwatch.connectors.services import CheckFailed, check_connector
from fleetwatch.connectors.tasks import run_now


class ConnectorViewSet(viewsets.ModelViewSet):
    queryset = Connector.objects.select_related("state").all()
    serializer_class = ConnectorSerializer
    permission_classes = [IsAdminUser]
    pagination_class = None

    def destroy(self, request, *args, **kwargs):
        # The connector's incidents keep their source; deleting it would orphan their history.
        connector = self.get_object()
        connector.enabled = False
        connector.save(update_fields=["enabled", "updated"])
        return Response(
            {"detail": "Connectors are disabled, not deleted: their incidents keep their source."},
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )

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
        error when the vendor call fails. Never 500."""
        try:
            seen, requests = check_connector(self.get_object())
        except CheckFailed as exc:
            if exc.kind == "options":
                return Response({"ok": False, "options": exc.options}, status=400)
            code = status.HTTP_409_CONFLICT if exc.kind == "credentials" else 502
            return Response({"ok": False, "error": str(exc)}, status=code)
        return Response({"ok": True, "requests": requests, "seen": seen})
