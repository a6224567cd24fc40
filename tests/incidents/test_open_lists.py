"""``incidents/open/`` and ``open+unacked/``: v1 streamed unpaginated, v2 paged like lists."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from fleetwatch.incidents.api import open_lists
from fleetwatch.incidents.events import acknowledge
from fleetwatch.incidents.ingest import parse_incident, upsert_incidents
from fleetwatch.incidents.models import Incident

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"


@pytest.fixture
def many(source):
    """23 open incidents (some sharing a start time), 2 closed, 3 of the open acked."""
    base = timezone.now() - timedelta(days=1)
    drafts = [
        parse_incident(
            {
                "start_time": (base + timedelta(seconds=i // 3)).isoformat(),
                "end_time": "infinity" if i < 23 else (base + timedelta(hours=1)).isoformat(),
                "source_incident_id": f"O-{i}",
                "tags": [{"tag": f"n={i}"}],
            }
        )
        for i in range(25)
    ]
    upsert_incidents(source, source.user, drafts)
    incidents = list(Incident.objects.open().order_by("-start_time", "-id"))
    for incident in incidents[:3]:
        acknowledge(incident, source.user, timezone.now(), "seen", None)
    return [i.pk for i in incidents]


def streamed(response) -> list:
    assert response.streaming
    return json.loads(b"".join(response.streaming_content))


def test_v1_open_is_streamed_in_batches_and_equals_the_whole_array(api, many, monkeypatch):
    whole = streamed(api.get(f"{V1}open/"))
    monkeypatch.setattr(open_lists, "STREAM_BATCH", 4)  # 23 incidents: 6 batches
    response = api.get(f"{V1}open/")
    assert response["Content-Type"] == "application/json"
    batched = streamed(response)
    assert batched == whole
    assert [i["pk"] for i in batched] == many  # newest first, no gaps or repeats
    assert "level" not in batched[0]  # still the v1 shape
    unacked = streamed(api.get(f"{V1}open+unacked/"))
    assert [i["pk"] for i in unacked] == many[3:]


def test_v1_open_streams_an_empty_array(api):
    assert streamed(api.get(f"{V1}open/")) == []


def test_v1_open_queries_do_not_grow_with_the_batch(
    api, many, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(open_lists, "STREAM_BATCH", 10)
    with django_assert_max_num_queries(12):  # auth + 3 batches x (rows, tags)
        streamed(api.get(f"{V1}open/"))


@pytest.mark.parametrize("path", ["open/", "open+unacked/"])
def test_v2_open_lists_are_paginated(api, many, path):
    expected = many if path == "open/" else many[3:]
    seen, url = [], f"{V2}{path}?page_size=5"
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        assert "level" in body["results"][0] and "metadata" in body["results"][0]
        seen += [i["pk"] for i in body["results"]]
        url = body["next"]
    assert seen == expected
    # Filters and count as on incidents/; unknown parameters are refused.
    assert api.get(f"{V2}{path}?count").json()["count"] == len(expected)
    response = api.get(f"{V2}{path}?colour=red")
    assert response.status_code == 400
    assert response.json() == {"colour": ["Unknown query parameter."]}


@pytest.mark.parametrize(
    "url",
    [
        f"{V2}99999999999999999999/",
        f"{V2}9223372036854775808/",
        f"{V2}1/events/99999999999999999999999/",
        f"{V2}1/acks/61064778999816102346752/",
        f"{V1}99999999999999999999/",
        "/api/v2/incidents/sources/99999999999999999999/",
        "/api/v2/auth/users/99999999999999999999/",
    ],
)
def test_an_id_beyond_64_bits_in_a_url_is_a_404(api, url):
    """It reached the database: OverflowError (500) on SQLite, out of range (503) on PG."""
    api.raise_request_exception = False
    response = api.get(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
