"""A unique-constraint violation maps to a 409 naming the client's fields (both databases)."""

import pytest
from django.db import IntegrityError, transaction

from fleetwatch.api.conflicts import unique_conflict
from fleetwatch.incidents.models import SourceSystemType
from fleetwatch.notifications.models import Timeslot


def violation(create) -> IntegrityError:
    create()
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        create()
    return caught.value


def test_per_user_name_names_the_name_only(enduser):
    exc = violation(lambda: Timeslot.objects.create(user=enduser, name="twice"))
    conflict = unique_conflict(exc)
    assert conflict is not None and list(conflict) == ["name"]
    assert "twice" not in str(conflict)  # values are never repeated


def test_primary_key_names_the_field(db):
    exc = violation(lambda: SourceSystemType.objects.create(name="twice"))
    assert list(unique_conflict(exc) or {}) == ["name"]


def test_other_integrity_errors_are_not_conflicts(enduser):
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Timeslot.objects.create(user_id=10**9, name="orphan")
        # SQLite checks foreign keys at commit; PostgreSQL at once (deferred: at commit).
        from django.db import connection

        connection.check_constraints()
    assert unique_conflict(caught.value) is None


def test_a_source_type_differing_only_in_case_is_a_400_naming_the_name(client_for, superuser):
    """Type names are stored lower-case: "NAVÉ" (past the ASCII-only upper-case check) beside
    "navé" must be caught by validation, not by the unique index (schemathesis found it: the
    index's error broke the request's transaction)."""
    api = client_for(superuser)
    created = api.post("/api/v2/incidents/source-types/", {"name": "navé"}, format="json")
    assert created.status_code == 201
    response = api.post("/api/v2/incidents/source-types/", {"name": "navÉ"}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["name"]
    assert list(SourceSystemType.objects.values_list("name", flat=True)) == ["navé"]
    # The connection is still usable in the same transaction: nothing was half-written.
    assert api.get("/api/v2/incidents/source-types/").json() == [{"name": "navé"}]
