"""PostgreSQL: two clients creating the same unique thing at once get a clean answer.

The serializers' uniqueness checks read committed rows only; a twin created by a transaction
still open passes them, and the INSERT then waits for that transaction and fails on the unique
index. That IntegrityError was a 503 ("could not be stored", which invites retries). Here the
twin is inserted by another connection that commits only once this request's INSERT is seen
waiting on it (``pg_locks``), so the race happens every run, not once in a while.

Run with ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/fw_<name>``.
"""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction

from fleetwatch.incidents.models import Incident, SourceSystemType
from fleetwatch.notifications.models import Filter, Timeslot

pytestmark = pytest.mark.django_db(transaction=True)

V2 = "/api/v2/incidents/"
P2 = "/api/v2/notificationprofiles/"


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the race needs row locks that wait (PostgreSQL)")


def someone_waits() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


def race(twin: Callable[[], object], request: Callable[[], object]):
    """Run ``request`` while another connection holds ``twin``'s uncommitted INSERT; that
    connection commits once the request waits on it. Returns the request's response."""
    inserted, failure = threading.Event(), []

    def other_client() -> None:
        try:
            with transaction.atomic():
                twin()
                inserted.set()
                deadline = time.monotonic() + 10
                while not someone_waits() and time.monotonic() < deadline:
                    time.sleep(0.01)
        except Exception as exc:  # reported by the test, not lost in the thread
            failure.append(exc)
            inserted.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_client)
    thread.start()
    assert inserted.wait(10)
    try:
        response = request()
    finally:
        thread.join(20)
    assert not failure, failure
    return response


def incident_body(sid: str) -> dict:
    return {"start_time": "2026-11-20T10:00:00+00:00", "source_incident_id": sid, "tags": []}


def twin_incident(source, sid: str) -> Callable[[], object]:
    return lambda: Incident.objects.create(
        source=source, start_time="2026-11-20T10:00:00+00:00", source_incident_id=sid
    )


def test_create_incident_with_a_taken_id_is_refused_naming_it(source, source_api):
    response = race(
        twin_incident(source, "r1"),
        lambda: source_api.post(V2, incident_body("r1"), format="json"),
    )
    assert response.status_code in (400, 409), response.content
    assert "source_incident_id" in response.json()
    assert Incident.objects.filter(source_incident_id="r1").count() == 1


@pytest.mark.parametrize("path", ["upsert/", "bulk/"])
def test_upsert_racing_a_create_updates_it(source, source_api, path):
    body = {**incident_body("r2"), "description": "from the upsert"}
    payload = {"incidents": [body]} if path == "bulk/" else body
    response = race(
        twin_incident(source, "r2"),
        lambda: source_api.post(f"{V2}{path}", payload, format="json"),
    )
    assert response.status_code in (200, 201), response.content
    (incident,) = Incident.objects.filter(source_incident_id="r2")
    assert incident.description == "from the upsert"


def test_source_type_created_twice_at_once(client_for, superuser):
    admin = client_for(superuser)
    response = race(
        lambda: SourceSystemType.objects.create(name="racy"),
        lambda: admin.post(f"{V2}source-types/", {"name": "racy"}, format="json"),
    )
    assert response.status_code in (400, 409), response.content
    assert "name" in response.json()


def test_source_created_twice_at_once(client_for, superuser, make_source):
    admin = client_for(superuser)
    SourceSystemType.objects.create(name="nav")

    def twin() -> object:
        return make_source("twin", "nav")

    response = race(
        twin,
        lambda: admin.post(
            f"{V2}sources/", {"name": "twin", "type": "nav", "username": "x"}, format="json"
        ),
    )
    assert response.status_code in (400, 409), response.content
    assert "name" in response.json()


@pytest.mark.parametrize(
    "path, model, body",
    [
        ("timeslots/", Timeslot, {"name": "racy", "time_recurrences": []}),
        ("filters/", Filter, {"name": "racy", "filter": {"tags": ["a=b"]}}),
    ],
)
def test_notification_names_created_twice_at_once(api, enduser, path, model, body):
    twin = {"filter": {"tags": ["a=b"]}} if model is Filter else {}
    response = race(
        lambda: model.objects.create(user=enduser, name="racy", **twin),
        lambda: api.post(f"{P2}{path}", body, format="json"),
    )
    assert response.status_code in (400, 409), response.content
    assert "name" in str(response.json())
    assert model.objects.filter(user=enduser, name="racy").count() == 1
