"""The tag relations' copy of their incident's ``start_time`` (the tag's page order, index
``tag_page_order``) after every writer, when the incident's ``start_time`` changes and after
the migrations fill it; and ``tags=`` pages read in that order (``incidents/tag_pages.py``)
against the filterset's (``test_compiled_filters.py`` compares many more combinations)."""

from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from page_helpers import walk_pages

from fleetwatch import fastsql
from fleetwatch.incidents import tag_pages
from fleetwatch.incidents.api.serializers import incident_rows
from fleetwatch.incidents.models import Incident, IncidentTagRelation, Tag

V2 = "/api/v2/incidents/"
#: A filter the compiled page path does not take, true of every incident: the filterset path.
REFERENCE = "start_time__lte=2999-01-01T00:00:00Z"
FILL = "fleetwatch.incidents.migrations.0007_tag_relation_start_time_fill"


def at(minute: int) -> str:
    return (datetime(2026, 11, 21, 12, tzinfo=UTC) + timedelta(minutes=minute)).isoformat()


def item(sid: str, minute: int, *tags: str) -> dict:
    return {"start_time": at(minute), "source_incident_id": sid, "tags": [{"tag": t} for t in tags]}


def relations_follow_their_incidents() -> int:
    """How many relations there are, once every one is checked to hold its incident's
    start_time."""
    rows = list(IncidentTagRelation.objects.values_list("pk", "start_time", "incident__start_time"))
    assert [pk for pk, mine, incidents in rows if mine != incidents] == []
    return len(rows)


def same_pages(api, query: str) -> list[list[int]]:
    """The tag page path's pages, checked against the filterset's."""
    pages = walk_pages(api, query, 3)
    assert pages == walk_pages(api, f"{query}&{REFERENCE}", 3), query
    return pages


@pytest.mark.parametrize("fast", [True, False])
def test_every_writer_gives_the_incidents_start_time(settings, api, source_api, superuser, fast):
    """POST (one statement on PostgreSQL), bulk (COPY past 8 rows, an INSERT below), upsert of
    a stored incident, PATCH of tags, the tag endpoint and a relation saved by itself (the
    admin's inline): each relation holds its incident's start_time; with the fast SQL off
    the ORM writers do the same."""
    settings.FAST_SQL = fast
    created = source_api.post(V2, item("one", 5, "site=a", "kind=x"), format="json")
    assert created.status_code == 201, created.content
    assert relations_follow_their_incidents() == 2
    for size in (12, 3):
        items = [item(f"b{size}-{n}", 10 + n, "site=b", f"n={n}") for n in range(size)]
        response = source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
        assert response.status_code == 201, response.content
    assert relations_follow_their_incidents() == 2 + 2 * 15
    response = source_api.post(f"{V2}upsert/", item("b12-0", 10, "site=c"), format="json")
    assert response.status_code == 200, response.content
    pk = created.json()["pk"]
    response = source_api.patch(
        f"{V2}{pk}/", {"tags": [{"tag": "site=a"}, {"tag": "kind=y"}]}, format="json"
    )
    assert response.status_code == 200, response.content
    response = api.post(f"{V2}{pk}/tags/", {"tag": "owner=ops"}, format="json")
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(source_incident_id="b3-1")
    tag = Tag.objects.create(key="by", value="hand")
    IncidentTagRelation.objects.create(tag=tag, incident_id=incident.pk, added_by=superuser)
    assert relations_follow_their_incidents() == 2 + 30 + 1 + 1 + 1


def test_a_changed_start_time_moves_the_incidents_tags(api, source_api):
    """No API path changes an incident's start_time (PATCH refuses it, upsert keeps it); the
    admin's form (``save()``) and a plain UPDATE can, and the trigger keeps the tags' copy."""
    items = [item(f"m{n}", n, "site=a", f"n={n}") for n in range(6)]
    source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    pks = list(Incident.objects.order_by("start_time").values_list("pk", flat=True))
    before = same_pages(api, "tags=site=a")
    Incident.objects.filter(pk=pks[0]).update(start_time=F("start_time") + timedelta(hours=1))
    incident = Incident.objects.get(pk=pks[1])
    incident.start_time += timedelta(hours=2)
    incident.save()
    Incident.objects.filter(pk__in=pks[2:]).update(level=1)  # start_time not set: no change
    assert relations_follow_their_incidents() == 12
    after = same_pages(api, "tags=site=a")
    assert after[0][:2] == [pks[1], pks[0]] and after != before
    refused = source_api.patch(f"{V2}{pks[2]}/", {"start_time": at(99)}, format="json")
    assert refused.status_code == 400 and "start_time" in refused.json()


def test_ties_of_start_time_page_as_the_filterset(api, source_api):
    items = [item(f"t{n}", n // 4, "site=a", "kind=x" if n % 3 else "kind=y") for n in range(14)]
    source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    for query in ("tags=site=a", "tags=site=a,kind=x", "tags=kind=x,kind=y&level__lte=5"):
        pages = same_pages(api, query)
        assert len({pk for page in pages for pk in page}) > 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's statistics")
def test_the_rarest_tag_drives_a_page_of_several_keys(api, source_api):
    """Whatever order the keys come in, the tag with the smallest share of the relations (the
    planner's statistics, read with the tag lookup) is walked and the others probed; with the
    fast SQL off (no statistics read), the first key's."""
    items = [
        item(f"r{n}", n, "kind=router", *(["site=rare"] if n % 20 == 0 else [])) for n in range(60)
    ]
    source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {IncidentTagRelation._meta.db_table}")
    rare = Tag.objects.get(key="site", value="rare").pk
    common = Tag.objects.get(key="kind", value="router").pk
    for tags in ([("kind", "router"), ("site", "rare")], [("site", "rare"), ("kind", "router")]):
        plan = tag_pages.plan(tags)
        if not fastsql.postgresql():
            assert plan.driver == (rare if tags[0][0] == "site" else common)
        else:
            assert (plan.driver, plan.probes) == (rare, ((common,),))
    assert [len(page) for page in same_pages(api, "tags=kind=router,site=rare")] == [3]


def test_a_pages_tag_ids_are_in_its_sql_text(source):
    """Tag ids are written into the page's SQL, not passed as parameters: a prepared
    statement's plan then fits its own tags (``tag_pages._written``)."""
    tags = [Tag.objects.create(pk=900_001 + n, key="site", value=v).pk for n, v in enumerate("abc")]
    plan = tag_pages.TagPagePlan(driver=tags[0], probes=((tags[1], tags[2]),))
    page = incident_rows(tag_pages.apply(plan, Incident.objects.all()))
    ordered = page.order_by(*(f"-{name}" for name in tag_pages.POSITION))[:5]
    sql, params = ordered.query.sql_with_params()
    assert not set(tags) & set(params)
    assert all(f"({pk})" in sql for pk in tags)


@pytest.mark.django_db(transaction=True)
def test_the_migrations_fill_the_relations_there_were(source_api, monkeypatch):
    """0006 adds the column, 0007 fills it in batches (here of 2), 0008 makes it NOT NULL and
    adds the index and the trigger; back to 0006 and forward again on stored relations."""
    items = [item(f"g{n}", n, "site=a", f"n={n}") for n in range(5)]
    source_api.post(f"{V2}bulk/", {"incidents": items}, format="json")
    monkeypatch.setattr(import_module(FILL), "BATCH", 2)
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("incidents")
    executor.migrate([("incidents", "0006_tag_relation_start_time")])
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {IncidentTagRelation._meta.db_table} SET start_time = NULL")
    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    assert relations_follow_their_incidents() == 10
    Incident.objects.update(start_time=F("start_time") - timedelta(days=1))  # the trigger
    assert relations_follow_their_incidents() == 10
