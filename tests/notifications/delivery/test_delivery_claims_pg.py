"""PostgreSQL: workers claim with SKIP LOCKED — rows another worker is claiming are passed
over, not waited for, and never handed out twice."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Event, Incident
from fleetwatch.notifications.delivery import claim
from fleetwatch.notifications.models import Delivery, Destination

pytestmark = pytest.mark.django_db(transaction=True)


def test_rows_locked_by_another_worker_are_skipped(source, enduser):
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    incident = Incident.objects.create(source=source, start_time=timezone.now(), end_time=INFINITY)
    event = Event.objects.create(
        incident=incident, actor=source.user, type="STA", timestamp=timezone.now()
    )
    rows = [
        Delivery.objects.create(
            event=event,
            destination=Destination.objects.create(user=enduser, media="email", label=f"d{n}"),
            media="email",
        ).pk
        for n in range(10)
    ]
    locked, release, taken = threading.Event(), threading.Event(), []

    def other_worker():
        try:
            with transaction.atomic():
                taken.extend(
                    Delivery.objects.select_for_update()
                    .filter(pk__in=rows[:5])
                    .values_list("pk", flat=True)
                )
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert locked.wait(10)
    try:
        mine = [row.pk for row in claim(10)]
    finally:
        release.set()
        thread.join()
    assert sorted(mine) == rows[5:]
    assert sorted(taken) == rows[:5]
