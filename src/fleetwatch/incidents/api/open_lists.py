"""``incidents/open/`` and ``incidents/open+unacked/``, in v1 and in v2.

v1 serves them as the v1 document does: one JSON array of every open incident, no paging.
With thousands open that array was built in memory whole (9,314 incidents: 5.2 MB, one
response object per incident at once); here it is streamed, a keyset batch at a time, so the
server's memory stays that of one batch whatever the number — the body is byte for byte the
array it was.

Argus 2.x removed both routes from v2, but argus-api-client 0.8.0 still calls them there; v2
serves them as its other incident lists are served: cursor-paginated, with the list filters.
"""

from collections.abc import Iterator

from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from fleetwatch.api.renderers import FastJSONRenderer, fast_renderers
from fleetwatch.api.validation import StrictQueryParams
from fleetwatch.incidents.api.serializers import IncidentSerializer, ListRendering
from fleetwatch.incidents.api.views import IncidentListMixin
from fleetwatch.incidents.models import Incident

#: Incidents rendered per query while streaming the v1 array.
STREAM_BATCH = 500


def open_incidents(unacked_only: bool) -> QuerySet:
    queryset = Incident.objects.open()
    return queryset.not_acked() if unacked_only else queryset


def stream_array(
    queryset: QuerySet, version: str | None, batch: int = STREAM_BATCH
) -> Iterator[bytes]:
    """The JSON array of ``queryset``'s incidents, newest first, as byte chunks.

    Each batch is one keyset query after the previous batch's last ``(start_time, pk)``, so
    neither memory nor the database's work grows with how far the stream has got.
    """
    renderer = FastJSONRenderer()
    rendering = ListRendering(version)
    yield b"["
    position = None
    first = True
    while True:
        page = queryset
        if position is not None:
            page = page.filter(TupleLessThan(Tuple(F("start_time"), F("pk")), position))
        rows = list(rendering.rows(page.order_by("-start_time", "-id"))[:batch])
        if not rows:
            break
        chunk = renderer.render(rendering.render(rows))
        yield (b"" if first else b",") + chunk[1:-1]
        first = False
        position = (rows[-1]["start_time"], rows[-1]["id"])
        if len(rows) < batch:
            break
    yield b"]"


class OpenListV1View(StrictQueryParams, GenericAPIView):
    """v1: every open incident as one JSON array (streamed), unfiltered, as v1 served it."""

    serializer_class = IncidentSerializer
    renderer_classes = fast_renderers()
    unacked_only = False

    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request: Request) -> StreamingHttpResponse:
        return StreamingHttpResponse(
            stream_array(open_incidents(self.unacked_only), request.version),
            content_type="application/json",
        )


class OpenListV2View(IncidentListMixin, GenericAPIView):
    """v2: the open (and unacknowledged) incidents, paged and filtered like ``incidents/``."""

    serializer_class = IncidentSerializer
    renderer_classes = fast_renderers()
    unacked_only = False

    def get(self, request: Request) -> Response:
        return self.list_response(request, open_incidents(self.unacked_only))


class OpenUnackedListV2View(OpenListV2View):
    """v2 ``open+unacked/`` (its own class: its own OpenAPI operation)."""

    unacked_only = True
