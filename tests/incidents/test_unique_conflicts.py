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
