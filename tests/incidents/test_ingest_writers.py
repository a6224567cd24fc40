"""The plain-tuple writers of ingest (COPY on PostgreSQL) stay in step with the models."""

from fleetwatch.fastsql import pg_copy
from fleetwatch.incidents.ingest import parse_incident, upsert_incidents
from fleetwatch.incidents.models import INCIDENT_COLUMNS, Event, Incident, IncidentTagRelation


def _columns(model) -> set[str]:
    return {f.column for f in model._meta.concrete_fields}


def test_column_lists_cover_every_column():
    assert set(pg_copy.ROW_COLUMNS) == _columns(Incident)
    assert set(INCIDENT_COLUMNS) == _columns(Incident) - {"id"}
    assert set(pg_copy.EVENT_COLUMNS) == _columns(Event) - {"id"}
    assert set(pg_copy.RELATION_COLUMNS) == _columns(IncidentTagRelation) - {"id"}


def test_bulk_created_incidents_round_trip(source):
    payloads = [
        {
            "start_time": "2026-01-01T00:00:00Z",
            "end_time": end,
            "source_incident_id": f"w-{n}",
            "description": "tab\\there, newline\nthere, back\\slash",
            "level": 1 + n,
            "metadata": {"n": n, "nested": {"list": [1, "two", None]}, "é": "\u2028"},
            "tags": [{"tag": "a=1"}, {"tag": f"n={n}"}],
        }
        for n, end in enumerate(["2026-01-02T00:00:00Z", None, "infinity"])
    ]
    results = upsert_incidents(source, source.user, [parse_incident(p) for p in payloads])
    pks = [r.incident.pk for r in results]
    assert pks == sorted(pks) and all(not r.incident._state.adding for r in results)
    for payload, pk in zip(payloads, pks, strict=True):
        stored = Incident.objects.get(pk=pk)
        assert stored.description == payload["description"]
        assert stored.metadata == payload["metadata"]
        assert stored.level == payload["level"]
        tags = [f"{r.tag.key}={r.tag.value}" for r in stored.tag_relations.order_by("id")]
        assert tags == [t["tag"] for t in payload["tags"]]
    types = {
        pk: sorted(Event.objects.filter(incident_id=pk).values_list("type", flat=True))
        for pk in pks
    }
    assert types == {pks[0]: ["END", "STA"], pks[1]: ["LES"], pks[2]: ["STA"]}
