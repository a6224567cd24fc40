"""A worker killed between the event's commit and the send loses nothing: the committed
outbox row is sent once by the next worker (its real sending loop, committed transactions)."""

import time

import pytest
from django.utils import timezone

from fleetwatch.incidents.ingest import IncidentDraft, create_incident
from fleetwatch.notifications.delivery import DeliveryWorker, claim
from fleetwatch.notifications.models import (
    Delivery,
    Destination,
    Filter,
    NotificationProfile,
)

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_claim_abandoned_by_a_killed_worker_is_sent_once_by_the_next(
    source, enduser, smtp_sink, settings
):
    settings.DELIVERY_CLAIM_SECONDS = 1
    settings.DELIVERY_POLL_INTERVAL = 0.05
    destination = Destination.objects.create(
        user=enduser, media="email", label="ops", settings={"email_address": "ops@example.org"}
    )
    profile = NotificationProfile.objects.create(
        user=enduser, name="all", timeslot=enduser.timeslots.get(name="All the time")
    )
    profile.filters.add(Filter.objects.create(user=enduser, name="all", filter={"maxlevel": 5}))
    profile.destinations.add(destination)
    create_incident(
        source, source.user, IncidentDraft(start_time=timezone.now(), description="down", level=1)
    )  # committed, with its outbox row
    assert len(claim(10)) == 1  # the first worker claims it ... and is killed before sending
    assert Delivery.objects.get().status == Delivery.Status.SENDING
    worker = DeliveryWorker()
    worker.start()
    try:
        assert wait_until(lambda: Delivery.objects.get().status == Delivery.Status.SENT)
    finally:
        worker.stop()
    assert len(smtp_sink.to("ops@example.org")) == 1
    assert Delivery.objects.get().attempts == 2
