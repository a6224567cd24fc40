"""End to end from a vendor: a connector polls an emulator over HTTP, incidents open, and the
matching profile's mail, SMS and webhook arrive."""

import pytest
from notif_helpers import P2

from fleetwatch.connectors.engine import run_poll
from fleetwatch.connectors.services import create_connector
from fleetwatch.incidents.models import Incident
from fleetwatch.notifications.delivery import run_once
from fleetwatch.notifications.models import Delivery

pytestmark = pytest.mark.django_db


def created(response) -> int:
    assert response.status_code == 201, response.content
    return response.json()["pk"]


def test_a_polled_incident_notifies_by_mail_sms_and_webhook(
    emulator, api, timeslot_pk, smtp_sink, webhook_receiver
):
    server = emulator("7signal", seed=4, devices=60)
    connector = create_connector(
        name="seven",
        vendor="7signal",
        base_url=server.url,
        credentials=server.emulator.credentials(),
        poll_interval=60,
        options={"retry": {"base_delay": 0.01, "max_delay": 0.05}, "timeout": 1.0},
    )
    destinations = [
        created(api.post(f"{P2}destinations/", body, format="json"))
        for body in (
            {"media": "email", "label": "m", "settings": {"email_address": "ops@example.org"}},
            {"media": "sms", "label": "s", "settings": {"phone_number": "+4799988877"}},
            {"media": "webhook", "label": "w", "settings": {"url": webhook_receiver.url}},
        )
    ]
    wifi = created(
        api.post(
            f"{P2}filters/",
            {"name": "wifi", "filter": {"source_types": ["7signal"]}},
            format="json",
        )
    )
    created(
        api.post(
            P2,
            {
                "name": "wifi",
                "timeslot": timeslot_pk,
                "filters": [wifi],
                "destinations": destinations,
            },
            format="json",
        )
    )
    assert run_poll(connector.pk).as_dict()["status"] == "ok"
    opened = Incident.objects.filter(source=connector.source).count()
    assert opened > 0
    assert Delivery.objects.count() >= 3 * opened  # every START, to three destinations
    while run_once().total:
        pass
    assert len(smtp_sink.to("ops@example.org")) >= opened
    assert len(smtp_sink.to("sms@gateway.test")) >= opened
    hooked = {r.json()["incident"]["pk"] for r in webhook_receiver.requests}
    assert hooked == set(
        Incident.objects.filter(source=connector.source).values_list("pk", flat=True)
    )
    assert not Delivery.objects.exclude(status=Delivery.Status.SENT).exists()
