"""The domain services behind every face: one change text, one policy, no HTTP needed."""

import pytest
from django.utils import timezone

from fleetwatch.incidents import services
from fleetwatch.incidents.models import Acknowledgement, Event, Incident
from fleetwatch.incidents.permissions import NotAllowed

V2 = "/api/v2/incidents/"
TS = "2026-11-21T12:00:00Z"
URL = "https://t.example/42"


def test_every_path_records_a_change_in_the_same_words(source_api, post_incident):
    """PATCH, ticket_url/, ticket_url/bulk/ and upsert all go through change_incident."""
    patched, put, bulk = (post_incident()["pk"] for _ in range(3))
    source_api.patch(f"{V2}{patched}/", {"ticket_url": URL}, format="json")
    source_api.put(f"{V2}{put}/ticket_url/", {"ticket_url": URL}, format="json")
    source_api.post(f"{V2}ticket_url/bulk/", {"ids": [bulk], "ticket_url": URL}, format="json")
    body = {"start_time": TS, "source_incident_id": "UP", "tags": []}
    upserted = source_api.post(f"{V2}upsert/", body, format="json").json()["pk"]
    source_api.post(f"{V2}upsert/", {**body, "ticket_url": URL}, format="json")
    expected = services.describe_change("ticket_url", "", URL)
    assert expected == f"Change: \"ticket_url\": '' → '{URL}'"
    for pk in (patched, put, bulk, upserted):
        assert Event.objects.get(incident_id=pk, type=Event.Type.INCIDENT_CHANGE).description == (
            expected
        )


def test_the_services_enforce_the_policy_without_the_api(post_incident, make_source, enduser):
    pk = post_incident()["pk"]
    incident = Incident.objects.get(pk=pk)
    intruder = make_source("zino9", "zino").user
    with pytest.raises(NotAllowed):
        services.change_incident(incident, {"level": 1}, intruder)
    with pytest.raises(NotAllowed):
        services.post_event(incident, intruder, Event.Type.INCIDENT_END, timezone.now())
    with pytest.raises(NotAllowed):
        services.acknowledge(incident, intruder)
    assert isinstance(services.post_events([pk], intruder, Event.Type.OTHER)[pk], NotAllowed)
    assert isinstance(services.acknowledge_many([pk], intruder)[pk], NotAllowed)
    assert isinstance(
        services.change_incidents([pk], {"ticket_url": URL}, intruder)[pk], NotAllowed
    )
    assert Incident.objects.get(pk=pk).level == incident.level
    assert list(Event.objects.filter(incident_id=pk).values_list("type", flat=True)) == ["STA"]
    # a person may, and the change is recorded
    event = services.change_incident(incident, {"level": 1}, enduser)
    assert event.pk and event.description == 'Change: "level": 5 → 1'
    ack = services.acknowledge(incident, enduser)
    assert Acknowledgement.objects.get(pk=ack.pk).event.actor == enduser
