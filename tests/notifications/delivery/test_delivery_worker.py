"""The delivery worker on outbox rows: send, retry with backoff, claims that survive a killed
worker, drop after a delay, health incidents for failing destinations."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleetwatch.incidents.heartbeats import HUB_SOURCE_NAME
from fleetwatch.incidents.models import INFINITY, Event, Incident
from fleetwatch.notifications.delivery import claim, process, retry_delay, run_once
from fleetwatch.notifications.health import SID_PREFIX
from fleetwatch.notifications.models import Delivery, Destination
from fleetwatch.notifications.render import incident_snapshot, render_message

pytestmark = pytest.mark.django_db
S = Delivery.Status


@pytest.fixture
def incident(source):
    incident = Incident.objects.create(
        source=source, start_time=timezone.now(), end_time=INFINITY, description="r1 down"
    )
    incident.start_event = Event.objects.create(
        incident=incident,
        actor=source.user,
        type=Event.Type.INCIDENT_START,
        timestamp=incident.start_time,
    )
    return incident


@pytest.fixture
def make_delivery(enduser, incident):
    def make(media, settings, *, event=None, **fields) -> Delivery:
        destination = Destination.objects.create(
            user=enduser,
            media=media,
            settings=settings,
            label=f"{media}-{Destination.objects.count()}",
        )
        event = event or incident.start_event
        message = render_message(event, incident_snapshot(incident, [], False), "nav1")
        return Delivery.objects.create(
            event=event, destination=destination, media=media, message=message, **fields
        )

    return make


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_backoff_first_retry_within_30s_and_at_least_5_attempts_over_10_minutes(settings):
    assert retry_delay(1) <= timedelta(seconds=30)
    assert settings.DELIVERY_MAX_ATTEMPTS >= 5
    total = sum((retry_delay(n) for n in range(1, settings.DELIVERY_MAX_ATTEMPTS)), timedelta())
    assert total >= timedelta(minutes=10)


def test_email_is_sent_and_recorded(make_delivery, smtp_sink):
    delivery = make_delivery("email", {"email_address": "ops@example.org"})
    outcome = run_once()
    assert outcome.sent == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == S.SENT and delivery.attempts == 1 and delivery.sent_at
    (mail,) = smtp_sink.messages
    assert delivery.provider_message_id == mail["Message-ID"]
    assert run_once().total == 0  # nothing twice


def test_webhook_500_then_200_is_delivered_once(make_delivery, webhook_receiver):
    webhook_receiver.statuses = [500, 200]
    delivery = make_delivery("webhook", {"url": webhook_receiver.url, "format": "generic"})
    assert run_once().retried == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == S.PENDING and "HTTP 500" in delivery.last_error
    assert timezone.now() < delivery.next_attempt_at <= later(30)
    assert run_once().total == 0  # not due yet
    assert process(claim(10, now=later(31))).sent == [delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (S.SENT, 2, "")
    assert [r.json()["delivery_id"] for r in webhook_receiver.requests] == [delivery.pk] * 2
    assert process(claim(10, now=later(3600))).total == 0  # delivered: never again


def test_a_worker_killed_after_claiming_loses_nothing(make_delivery, smtp_sink, settings):
    delivery = make_delivery("email", {"email_address": "ops@example.org"})
    (claimed,) = claim(10)  # ... and the worker dies here, before sending
    assert claimed.pk == delivery.pk
    assert run_once().total == 0  # the claim holds for other workers meanwhile
    outcome = process(claim(10, now=later(settings.DELIVERY_CLAIM_SECONDS + 1)))
    assert outcome.sent == [delivery.pk]
    assert len(smtp_sink.messages) == 1
    delivery.refresh_from_db()
    assert delivery.status == S.SENT and delivery.attempts == 2


def test_a_late_worker_cannot_overwrite_a_newer_attempt(make_delivery, smtp_sink, settings):
    make_delivery("email", {"email_address": "ops@example.org"})
    (stale,) = claim(10)
    process(claim(10, now=later(settings.DELIVERY_CLAIM_SECONDS + 1)))
    stale_outcome = process([stale])  # the first worker wakes up and sends too
    stale.refresh_from_db()
    assert stale.status == S.SENT and stale.attempts == 2  # its outcome was not recorded
    assert stale_outcome.sent  # (it did send: at-least-once when a worker stalls mid-send)


def test_gives_up_after_max_attempts_and_a_failing_destination_gets_a_health_incident(
    make_delivery, webhook_receiver, settings
):
    settings.DELIVERY_MAX_ATTEMPTS = 4
    settings.DELIVERY_FAILING_AFTER = 3
    webhook_receiver.statuses = [503]
    delivery = make_delivery("webhook", {"url": webhook_receiver.url})
    for n in range(1, 5):
        process(claim(10, now=later(n * 3600)))
        health = Incident.objects.filter(source_incident_id__startswith=SID_PREFIX)
        assert health.count() == (1 if n >= 3 else 0)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (S.FAILED, 4)
    (problem,) = Incident.objects.filter(source_incident_id__startswith=SID_PREFIX)
    assert problem.source.name == HUB_SOURCE_NAME and problem.open
    assert str(delivery.destination_id) in problem.source_incident_id
    assert "HTTP 503" in problem.description
    # The destination recovers: its next delivery ends the incident.
    webhook_receiver.statuses = [200]
    Delivery.objects.create(
        event=delivery.event,
        destination=Destination.objects.create(user=delivery.destination.user, media="email"),
        media="email",
        message=delivery.message,
    ).delete()  # (another destination's success does not count)
    again = Delivery.objects.create(
        event=Event.objects.create(
            incident=delivery.event.incident,
            actor=delivery.event.actor,
            type=Event.Type.OTHER,
            timestamp=timezone.now(),
        ),
        destination=delivery.destination,
        media="webhook",
        message=delivery.message,
    )
    assert run_once().sent == [again.pk]
    problem.refresh_from_db()
    assert not problem.open
    assert problem.events.filter(type=Event.Type.INCIDENT_END).count() == 1


def test_delayed_start_notification_is_dropped_when_the_incident_ended(
    make_delivery, incident, smtp_sink
):
    delivery = make_delivery("email", {"email_address": "ops@example.org"}, drop_if_resolved=True)
    Incident.objects.filter(pk=incident.pk).update(end_time=timezone.now())
    assert run_once().dropped == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == S.DROPPED and smtp_sink.messages == []


def test_delayed_start_notification_is_sent_when_still_open(make_delivery, smtp_sink):
    delivery = make_delivery("email", {"email_address": "ops@example.org"}, drop_if_resolved=True)
    assert run_once().sent == [delivery.pk]


def test_a_batch_of_mails_shares_one_smtp_connection(make_delivery, smtp_sink):
    for n in range(3):
        make_delivery("email", {"email_address": f"ops{n}@example.org"})
    assert len(run_once().sent) == 3
    assert len(smtp_sink.messages) == 3 and smtp_sink.connections == 1


def test_retention_takes_the_deliveries_of_the_incidents_it_deletes(make_delivery, incident):
    from django.db import connection

    from fleetwatch.incidents.retention import prune_incidents

    make_delivery("email", {"email_address": "ops@example.org"})
    Incident.objects.filter(pk=incident.pk).update(end_time=timezone.now() - timedelta(days=40))
    assert prune_incidents(30).incidents == 1
    assert not Delivery.objects.exists()
    connection.check_constraints()


def test_deliveries_are_counted_in_metrics_by_medium_and_status(
    make_delivery, smtp_sink, webhook_receiver
):
    from django.test import Client
    from prometheus_client.parser import text_string_to_metric_families

    def counted(medium: str, status: str) -> float:
        text = Client().get("/metrics").content.decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "fleetwatch_notification_deliveries_total" and sample.labels == {
                    "medium": medium,
                    "status": status,
                }:
                    return sample.value
        return 0.0

    sent, retried = counted("email", "sent"), counted("webhook", "retried")
    webhook_receiver.statuses = [500]
    make_delivery("email", {"email_address": "ops@example.org"})
    make_delivery("webhook", {"url": webhook_receiver.url})
    run_once()
    assert counted("email", "sent") == sent + 1
    assert counted("webhook", "retried") == retried + 1
