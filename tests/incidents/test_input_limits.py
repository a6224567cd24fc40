"""The documented input limits are 400s naming the field on every path, never 503s.

A value past them could not be stored (PostgreSQL's 2,704-byte index entries, 65,535 bind
parameters a statement) and came back as a 503, which clients retry forever. The largest
allowed values are stored on every database — with 4-byte characters, the worst case for an
index entry. Run on PostgreSQL as well: ``DATABASE_URL=postgresql://... pytest``.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fleetwatch.incidents import limits
from fleetwatch.incidents.models import Incident, IncidentTagRelation, SourceSystem, Tag

V1 = "/api/v1/incidents/"
V2 = "/api/v2/incidents/"
WIDE = "\U0001f600"  # 4 bytes in UTF-8

LONG_VALUE = "host=" + "v" * (limits.TAG_VALUE_MAX_LENGTH + 1)
LONG_KEY = "k" * (limits.TAG_KEY_MAX_LENGTH + 1) + "=v"
LONG_SID = "s" * (limits.SOURCE_INCIDENT_ID_MAX_LENGTH + 1)
TOO_MANY = [{"tag": f"n={i}"} for i in range(limits.TAGS_PER_INCIDENT_MAX + 1)]


def body(**fields) -> dict:
    data = {"start_time": "2026-11-20T10:00:00+00:00", "tags": [{"tag": "host=r1"}]}
    data.update(fields)
    return data


def create_paths(source_api, fields: dict):
    """Every path that creates an incident, with ``fields``: (where, response, errors)."""
    fields = {"source_incident_id": "x", **fields}
    for url in (V2, V1, f"{V2}upsert/"):
        response = source_api.post(url, body(**fields), format="json")
        yield url, response, response.json()
    response = source_api.post(f"{V2}bulk/", {"incidents": [body(**fields)]}, format="json")
    yield "bulk", response, response.json()["results"][0].get("errors", {})


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"tags": [{"tag": LONG_VALUE}]}, "tags", "at most 500 characters"),
        ({"tags": [{"tag": LONG_KEY}]}, "tags", "at most 100 characters"),
        ({"tags": TOO_MANY}, "tags", "at most 100 tags"),
        ({"tags": [{"tag": f"n={i}"} for i in range(40_000)]}, "tags", "at most 100 tags"),
        ({"source_incident_id": LONG_SID}, "source_incident_id", "no more than 500"),
    ],
)
def test_over_the_limit_on_every_create_path(source_api, fields, field, message):
    for where, response, errors in create_paths(source_api, fields):
        assert response.status_code == 400, (where, response.content[:300])
        assert field in errors, (where, errors)
        assert message in str(errors[field]), (where, errors)
    assert not Incident.objects.exists()
    assert not Tag.objects.filter(value__startswith="vvvv").exists()


def test_at_the_limit_is_stored_everywhere(source_api):
    """The largest values, in 4-byte characters, fit every index (PostgreSQL too)."""
    value = WIDE * limits.TAG_VALUE_MAX_LENGTH
    key = "k" * limits.TAG_KEY_MAX_LENGTH
    tags = [{"tag": f"{key}={value}"}] + [
        {"tag": f"n={i}"} for i in range(limits.TAGS_PER_INCIDENT_MAX - 1)
    ]
    sids = iter(f"{WIDE * (limits.SOURCE_INCIDENT_ID_MAX_LENGTH - 1)}{i}" for i in range(10))
    for url in (V2, f"{V2}upsert/"):
        response = source_api.post(url, body(source_incident_id=next(sids), tags=tags), "json")
        assert response.status_code == 201, response.content[:300]
        assert len(response.json()["tags"]) == limits.TAGS_PER_INCIDENT_MAX
    items = [body(source_incident_id=next(sids), tags=tags) for _ in range(3)]
    response = source_api.post(f"{V2}bulk/", {"incidents": items}, "json")
    assert response.json()["created"] == 3, response.content[:300]
    assert Tag.objects.filter(key=key, value=value).count() == 1


def test_patch_and_put_refuse_over_the_limit(source_api, post_incident):
    pk = post_incident()["pk"]
    for method in ("patch", "put"):
        for tags, message in (
            (TOO_MANY, "at most 100 tags"),
            ([{"tag": LONG_VALUE}], "at most 500 characters"),
        ):
            response = getattr(source_api, method)(f"{V2}{pk}/", {"tags": tags}, format="json")
            assert response.status_code == 400, response.content[:300]
            assert message in str(response.json()["tags"])
    response = source_api.patch(f"{V1}{pk}/", {"tags": TOO_MANY}, format="json")
    assert response.status_code == 400
    assert IncidentTagRelation.objects.filter(incident_id=pk).count() == 1


def test_the_tags_endpoint_refuses_over_the_limit(source_api, post_incident):
    tags = [{"tag": f"n={i}"} for i in range(limits.TAGS_PER_INCIDENT_MAX)]
    pk = post_incident(tags=tags)["pk"]
    url = f"{V2}{pk}/tags/"
    response = source_api.post(url, {"tag": "one=more"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"tag": ["An incident may have at most 100 tags."]}
    # A tag it already has is no new tag: still a 201, as before.
    assert source_api.post(url, {"tag": "n=5"}, format="json").status_code == 201
    pk = post_incident()["pk"]
    for tag in (LONG_VALUE, LONG_KEY):
        response = source_api.post(f"{V2}{pk}/tags/", {"tag": tag}, format="json")
        assert response.status_code == 400, response.content[:200]
        assert "tag" in response.json()
        response = source_api.get(f"{V2}{pk}/tags/{tag}/")
        assert response.status_code in (400, 404)


def test_the_tag_cap_is_checked_after_who_may_change(
    source_api, post_incident, client_for, make_source
):
    """The cap lives in ``services.add_tag``, after the ownership rule: another source learns
    nothing about the incident's tags, it is refused (403) whatever it sends."""
    tags = [{"tag": f"n={i}"} for i in range(limits.TAGS_PER_INCIDENT_MAX)]
    pk = post_incident(tags=tags)["pk"]
    other = client_for(make_source("other", "nav").user)
    response = other.post(f"{V2}{pk}/tags/", {"tag": "one=more"}, format="json")
    assert response.status_code == 403
    assert IncidentTagRelation.objects.filter(incident_id=pk).count() == 100


def test_source_types_and_sources_refuse_long_names(client_for, superuser):
    admin = client_for(superuser)
    types = "/api/v2/incidents/source-types/"
    response = admin.post(types, {"name": "t" * (limits.SOURCE_TYPE_NAME_MAX_LENGTH + 1)}, "json")
    assert response.status_code == 400
    assert "name" in response.json()
    name = WIDE * limits.SOURCE_TYPE_NAME_MAX_LENGTH
    assert admin.post(types, {"name": name}, "json").status_code == 201

    sources = "/api/v2/incidents/sources/"
    for fields, field in (
        ({"name": "n" * (limits.SOURCE_NAME_MAX_LENGTH + 1)}, "name"),
        ({"type": "t" * (limits.SOURCE_TYPE_NAME_MAX_LENGTH + 1)}, "type"),
        ({"username": "u" * (limits.USERNAME_MAX_LENGTH + 1)}, "username"),
    ):
        response = admin.post(sources, {"name": "ok", "type": name, **fields}, "json")
        assert response.status_code == 400, response.content[:300]
        assert field in response.json()
    # The longest name fits, and so does the user named after it (cut to 150 characters).
    longest = WIDE * limits.SOURCE_NAME_MAX_LENGTH
    for _ in range(2):  # the second one's user gets a suffix, still within 150
        other_type = "x" if SourceSystem.objects.filter(name=longest).exists() else name
        response = admin.post(sources, {"name": longest, "type": other_type}, "json")
        if other_type == "x":
            assert response.status_code == 400  # no type "x": refused by name, not by length
            admin.post(types, {"name": "x"}, "json")
            response = admin.post(sources, {"name": longest, "type": "x"}, "json")
        assert response.status_code == 201, response.content[:300]
    pk = response.json()["pk"]
    response = admin.patch(f"{sources}{pk}/", {"name": "n" * 201}, "json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_the_create_source_command_refuses_long_names(db):
    with pytest.raises(CommandError, match="no more than 200"):
        call_command("create_source", "n" * 201, "--type", "t", stdout=StringIO())
    assert not SourceSystem.objects.exists()


def test_upserts_cannot_grow_an_incident_past_the_cap(source_api):
    """An upsert adds tags and never removes them: 100 upserts of 100 new tags each made an
    incident with 10,000."""
    first = [{"tag": f"a={i}"} for i in range(60)]
    more = [{"tag": f"b={i}"} for i in range(60)]
    response = source_api.post(f"{V2}upsert/", body(source_incident_id="u", tags=first), "json")
    assert response.status_code == 201
    response = source_api.post(f"{V2}upsert/", body(source_incident_id="u", tags=more), "json")
    assert response.status_code == 400
    assert "would have 120" in response.json()["tags"][0]
    # Re-sending tags it has is no growth; up to the cap is fine.
    again = first + more[:40]
    response = source_api.post(f"{V2}upsert/", body(source_incident_id="u", tags=again), "json")
    assert response.status_code == 200, response.content[:200]
    items = [
        body(source_incident_id="u", tags=[{"tag": "c=1"}]),
        body(source_incident_id="v", tags=[{"tag": "c=1"}]),
    ]
    response = source_api.post(f"{V2}bulk/", {"incidents": items}, "json")
    results = response.json()["results"]
    assert results[0]["status"] == "error" and "would have 101" in results[0]["errors"]["tags"][0]
    assert results[1]["status"] == "created"
    assert IncidentTagRelation.objects.filter(incident__source_incident_id="u").count() == 100


def test_the_cap_is_the_domains_not_the_views(source):
    """``upsert_incidents`` itself refuses (connectors and workers call it without a view),
    naming the draft, and stores nothing of the batch."""
    from fleetwatch.incidents.ingest import IncidentDraft, TooManyTags, upsert_incidents
    from fleetwatch.incidents.ingest.drafts import parse_incident

    def draft(sid: str, prefix: str, n: int) -> IncidentDraft:
        return parse_incident(
            body(source_incident_id=sid, tags=[{"tag": f"{prefix}={i}"} for i in range(n)])
        )

    upsert_incidents(source, source.user, [draft("d", "a", 90)])
    with pytest.raises(TooManyTags) as caught:
        upsert_incidents(source, source.user, [draft("e", "a", 5), draft("d", "b", 20)])
    assert list(caught.value.problems) == [1]
    assert "'d' would have 110" in caught.value.problems[1]
    assert not Incident.objects.filter(source_incident_id="e").exists()
    assert IncidentTagRelation.objects.filter(incident__source_incident_id="d").count() == 90


def test_one_bulk_request_cannot_pass_the_cap_with_repeated_items(source_api):
    """Two items for one new incident, 60 new tags each: the first is stored, the second is
    refused naming its index — not an incident with 120 tags."""
    items = [
        body(source_incident_id="w", tags=[{"tag": f"a={i}"} for i in range(60)]),
        body(source_incident_id="w", tags=[{"tag": f"b={i}"} for i in range(60)]),
        body(source_incident_id="x", tags=[{"tag": "c=1"}]),
    ]
    response = source_api.post(f"{V2}bulk/", {"incidents": items}, "json")
    assert response.status_code == 201, response.content[:300]
    payload = response.json()
    assert [r["status"] for r in payload["results"]] == ["created", "error", "created"]
    assert "would have 120" in payload["results"][1]["errors"]["tags"][0]
    assert payload["error"] == 1 and payload["created"] == 2
    assert IncidentTagRelation.objects.filter(incident__source_incident_id="w").count() == 60


def test_a_single_item_bulk_past_the_cap_is_a_400(source_api):
    first = [{"tag": f"a={i}"} for i in range(100)]
    assert source_api.post(f"{V2}upsert/", body(source_incident_id="y", tags=first), "json")
    item = body(source_incident_id="y", tags=[{"tag": "z=1"}])
    response = source_api.post(f"{V2}bulk/", {"incidents": [item]}, "json")
    assert response.status_code == 400
    assert response.json()["results"][0]["errors"]["tags"][0].startswith(
        "An incident may have at most 100 tags."
    )
