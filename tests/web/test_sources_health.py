"""The sources page shows every health field of a connector (failures in a row included, not
only as a badge when there are some) and never its credentials."""

import re

from django.test import Client
from django.utils import timezone

from fleetwatch.connectors import services
from fleetwatch.connectors.models import ConnectorState


def test_health_fields_and_no_secret(superuser):
    connector = services.create_connector(
        name="wifi",
        vendor="7signal",
        base_url="http://127.0.0.1:9/",
        credentials={"client_id": "id-1", "client_secret": "never-shown-secret"},
    )
    now = timezone.now()
    ConnectorState.objects.filter(connector=connector).update(
        last_success_at=now,
        last_error="connection refused",
        last_error_at=now,
        consecutive_failures=0,
        requests_total=17,
    )
    client = Client()
    client.force_login(superuser)
    html = client.get("/sources/").content.decode()
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"\s+", " ", text)
    assert "Failures in a row 0" in text
    assert "Requests used 17" in text
    assert "Last error connection refused" in text
    assert f"Last success {now.isoformat()}" in text
    assert "Next run" in text and "Enable wifi" not in text and "Disable wifi" in text
    assert "never-shown-secret" not in html
    edit = client.get(f"/connectors/{connector.pk}/").content.decode()
    assert "never-shown-secret" not in edit and "id-1" not in edit
