"""argus-api-client 0.8.0, the real Argus Python client, against a live hub on API v2.

It calls ``incidents/open/`` and ``incidents/open+unacked/`` on v2 (which Argus 2.x removed);
every method of its ``Client`` and every action of its low-level API is exercised here.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from rest_framework.authtoken.models import Token

pyargus = pytest.importorskip("pyargus")
from pyargus.client import Client, paginated_query  # noqa: E402
from pyargus.models import Event, Incident  # noqa: E402


@pytest.fixture
def argus(live_server, source, monkeypatch):
    # The live server's request threads keep their connections for CONN_MAX_AGE; closed at
    # the end of each request instead, the test database can be dropped afterwards.
    monkeypatch.setitem(connections.settings[DEFAULT_DB_ALIAS], "CONN_MAX_AGE", 0)
    token, _ = Token.objects.get_or_create(user=source.user)
    return Client(f"{live_server.url}/api/v2/", token.key, timeout=10)


def incident(n: int, **fields) -> Incident:
    values = {
        "start_time": datetime(2026, 11, 20, 10, n, tzinfo=UTC),
        "end_time": "infinity",
        "source_incident_id": f"pyargus-{n}",
        "description": f"incident {n}",
        "level": 3,
        "tags": {"host": f"r{n}", "site": "oslo"},
    }
    values.update(fields)
    return Incident(**values)


def test_every_client_method_against_a_live_hub(argus, transactional_db):
    created = [argus.post_incident(incident(n)) for n in range(3)]
    assert [i.description for i in created] == ["incident 0", "incident 1", "incident 2"]
    first = created[0]
    assert first.tags["host"] == "r0" and first.open and not first.acked

    assert argus.get_incident(first.pk).source_incident_id == "pyargus-0"
    assert {i.pk for i in argus.get_incidents()} == {i.pk for i in created}
    assert {i.pk for i in argus.get_incidents(open=True, page_size=1)} == {i.pk for i in created}
    assert {i.pk for i in argus.get_my_incidents(page_size=2)} == {i.pk for i in created}

    first.description = "changed by pyargus"
    first.ticket_url = "https://tickets.example.org/1"
    updated = argus.update_incident(first)
    assert updated.description == "changed by pyargus"
    assert updated.ticket_url == "https://tickets.example.org/1"

    now = datetime.now(UTC)
    end = argus.resolve_incident(first, description="fixed", timestamp=now)
    assert end.type["value"] == "END" if isinstance(end.type, dict) else end.type == "END"
    assert not argus.get_incident(first.pk).open
    restart = argus.restart_incident(first.pk, timestamp=now + timedelta(seconds=1))
    assert restart.pk
    assert argus.get_incident(first.pk).open
    other = argus.post_incident_event(
        created[1], Event(type="OTH", description="note", timestamp=now)
    )
    assert other.description == "note"
    events = argus.get_incident_events(first)
    assert [e.description for e in events][-2:] == ["fixed", ""]
    assert argus.get_incident_acknowledgements(first.pk) == []

    assert argus.supports_heartbeat() is True
    argus.send_heartbeat()
    # Client.refresh_token() reads "expiration" and parses the token itself as a date
    # (pyargus/models.py, ExpiringToken.from_json): it cannot work against any server, Argus
    # included (knox answers {"expiry", "token"}). Its request does, and gets a new token.
    response = argus.api.tokens.refresh()
    assert response.status_code == 200
    assert len(response.body["token"]) == 64 and response.body["expiry"]


def test_the_v2_open_lists_the_client_calls(argus, client_for, superuser, transactional_db):
    created = [argus.post_incident(incident(n)) for n in range(5)]
    client_for(superuser).post(
        f"/api/v2/incidents/{created[0].pk}/acks/", {"description": "seen"}, format="json"
    )
    argus.resolve_incident(created[4])
    pages = list(paginated_query(argus.api.incidents.list_open, params={"page_size": 2}))
    assert len(pages) == 2
    assert {r["pk"] for _, results in pages for r in results} == {i.pk for i in created[:4]}
    pages = list(paginated_query(argus.api.incidents.list_open_unacked, params={}))
    assert {r["pk"] for _, results in pages for r in results} == {i.pk for i in created[1:4]}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_patch_may_echo_fields_it_cannot_change(source_api, post_incident, version):
    """What the client does: PATCH the incident it read, with its edits."""
    pk = post_incident()["pk"]
    body = source_api.get(f"/api/{version}/incidents/{pk}/").json()
    del body["pk"], body["source"]
    body["tags"] = [{"tag": t["tag"]} for t in body["tags"]]  # as the client sends them
    body["ticket_url"] = "https://tickets.example.org/7"
    body["start_time"] = body["start_time"].replace("Z", "+00:00")  # the same instant
    response = source_api.patch(f"/api/{version}/incidents/{pk}/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["ticket_url"] == "https://tickets.example.org/7"
    body["start_time"] = "2020-01-01T00:00:00Z"
    body["open"] = False
    response = source_api.patch(f"/api/{version}/incidents/{pk}/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "start_time": "The field is not allowed to be changed.",
        "open": "The field is not allowed to be changed.",
    }
