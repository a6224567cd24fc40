"""End to end over HTTP: profiles made through the API, incidents posted by a source, the
outbox written with the events, the worker sending to a real SMTP server and webhook
receiver."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from notif_helpers import P2

from fleetwatch.notifications.delivery import claim, process, run_once
from fleetwatch.notifications.models import Delivery, Filter, PlannedMaintenance

pytestmark = pytest.mark.django_db
INCIDENTS = "/api/v2/incidents/"
S = Delivery.Status


def created(response) -> int:
    assert response.status_code == 201, response.content
    return response.json()["pk"]


@pytest.fixture
def destinations(api, webhook_receiver):
    def make(media, label, settings):
        body = {"media": media, "label": label, "settings": settings}
        return created(api.post(f"{P2}destinations/", body, format="json"))

    return {
        "email": make("email", "work", {"email_address": "ops@example.org"}),
        "sms": make("sms", "phone", {"phone_number": "+4799988877"}),
        "webhook": make("webhook", "hook", {"url": webhook_receiver.url, "secret": "s3cret"}),
    }


@pytest.fixture
def critical(api):
    return created(
        api.post(f"{P2}filters/", {"name": "critical", "filter": {"maxlevel": 1}}, format="json")
    )


@pytest.fixture
def make_profile(api, timeslot_pk, critical, destinations):
    def make(name="critical", *, timeslot=None, filters=None, dests=None, **extra):
        body = {
            "name": name,
            "timeslot": timeslot or timeslot_pk,
            "filters": filters or [critical],
            "destinations": dests or list(destinations.values()),
            **extra,
        }
        return created(api.post(P2, body, format="json"))

    return make


@pytest.fixture
def incident(source_api):
    counter = iter(range(1, 10_000))

    def post(level=1, start=None, **fields):
        body = {
            "start_time": (start or timezone.now()).isoformat(),
            "description": "router r1 down",
            "level": level,
            "tags": [{"tag": "host=r1"}],
            "source_incident_id": f"E2E-{next(counter)}",
            **fields,
        }
        return created(source_api.post(INCIDENTS, body, format="json"))

    return post


def test_matching_incident_sends_mail_sms_and_webhook(
    make_profile, incident, smtp_sink, webhook_receiver, destinations
):
    make_profile()
    pk = incident(level=1)
    assert Delivery.objects.filter(status=S.PENDING).count() == 3  # written with the event
    outcome = run_once()
    assert len(outcome.sent) == 3
    mail = smtp_sink.to("ops@example.org")[0]
    assert "router r1 down" in mail["Subject"]
    assert f"/admin/incidents/incident/{pk}/change/" in mail.get_body(("plain",)).get_content()
    sms = smtp_sink.to("sms@gateway.test")[0]
    assert sms["Subject"] == "sms +4799988877"
    (hook,) = webhook_receiver.requests
    assert hook.json()["incident"]["pk"] == pk and hook.json()["event"]["type"] == "STA"
    assert hook.headers["X-Fleetwatch-Signature"].startswith("sha256=")
    assert run_once().total == 0


def test_non_matching_incident_sends_nothing(make_profile, incident, smtp_sink, webhook_receiver):
    make_profile()
    incident(level=3)
    assert Delivery.objects.count() == 0
    assert run_once().total == 0 and smtp_sink.messages == [] and webhook_receiver.requests == []


def test_two_profiles_of_one_user_send_one_message_per_destination(
    make_profile, incident, api, destinations, smtp_sink
):
    also = created(
        api.post(f"{P2}filters/", {"name": "r1", "filter": {"tags": ["host=r1"]}}, format="json")
    )
    make_profile("critical", dests=[destinations["email"]])
    make_profile("r1", filters=[also], dests=[destinations["email"]])
    incident(level=1)
    assert Delivery.objects.count() == 1
    run_once()
    assert len(smtp_sink.messages) == 1


def test_planned_maintenance_silences(make_profile, incident, enduser, smtp_sink):
    make_profile(dests=None)
    window = PlannedMaintenance.objects.create(
        created_by=enduser,
        start_time=timezone.now() - timedelta(hours=1),
        end_time=timezone.now() + timedelta(hours=1),
        description="router swap",
    )
    window.filters.add(Filter.objects.create(user=enduser, name="r1", filter={"tags": ["host=r1"]}))
    incident(level=1)
    assert Delivery.objects.count() == 0
    incident(level=1, tags=[{"tag": "host=r2"}])  # not covered by the maintenance
    assert Delivery.objects.count() == 3


def test_a_time_slot_across_midnight(api, make_profile, incident, destinations):
    night = created(
        api.post(
            f"{P2}timeslots/",
            {
                "name": "night",
                "time_recurrences": [
                    {"days": [1, 2, 3, 4, 5, 6, 7], "start": "22:00:00", "end": "06:00:00"}
                ],
            },
            format="json",
        )
    )
    make_profile(timeslot=night, dests=[destinations["email"]])
    day = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    incident(start=day.replace(hour=23, minute=30))
    incident(start=day.replace(hour=2, minute=15) + timedelta(days=1))
    assert Delivery.objects.count() == 2
    incident(start=day)  # noon: outside the slot
    assert Delivery.objects.count() == 2


def test_a_delayed_start_is_dropped_when_the_incident_ends_meanwhile(
    make_profile, incident, api, destinations, smtp_sink
):
    make_profile(dests=[destinations["email"]], delay_minutes=5)
    pk = incident(level=1)
    (delivery,) = Delivery.objects.all()
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=4)
    assert run_once().total == 0  # waiting
    assert api.post(f"{INCIDENTS}{pk}/events/", {"type": "CLO"}, format="json").status_code == 201
    outcome = process(claim(10, now=timezone.now() + timedelta(minutes=6)))
    assert outcome.dropped == [delivery.pk]
    assert smtp_sink.to("ops@example.org") == [] or all(
        "Close" in m["Subject"] for m in smtp_sink.to("ops@example.org")
    )


def test_a_start_mail_sent_after_the_end_still_reads_as_the_start(
    make_profile, incident, source_api, destinations, smtp_sink
):
    make_profile(dests=[destinations["email"]])
    pk = incident(level=1)
    body = {"type": "END", "timestamp": timezone.now().isoformat()}
    response = source_api.post(f"{INCIDENTS}{pk}/events/", body, format="json")
    assert response.status_code == 201, response.content
    run_once()  # both are sent only now
    by_subject = {m["Subject"]: m.get_body(("plain",)).get_content() for m in smtp_sink.messages}
    (start,) = [text for subject, text in by_subject.items() if "Incident start" in subject]
    (end,) = [text for subject, text in by_subject.items() if "Incident end" in subject]
    assert "Ended:" not in start
    assert "Ended:" in end


def test_webhook_500_then_200_arrives_once_more(
    make_profile, incident, destinations, webhook_receiver
):
    webhook_receiver.statuses = [500, 200]
    make_profile(dests=[destinations["webhook"]])
    incident(level=1)
    assert run_once().retried
    assert process(claim(10, now=timezone.now() + timedelta(seconds=31))).sent
    assert [r.headers["X-Fleetwatch-Delivery"] for r in webhook_receiver.requests] == [
        str(Delivery.objects.get().pk)
    ] * 2
    assert Delivery.objects.get().status == S.SENT


def test_sql_per_event_does_not_grow_with_the_number_of_profiles(
    api, make_profile, incident, critical, destinations
):
    def statements() -> int:
        incident(level=1)  # warm the snapshot after the profile changes
        with CaptureQueriesContext(connection) as queries:
            incident(level=1)
        return len(queries)

    make_profile("p0")
    one = statements()
    for n in range(1, 20):
        make_profile(f"p{n}")
    assert statements() == one


def test_an_incident_reported_already_ended_sends_a_start_without_the_end(
    make_profile, incident, destinations, smtp_sink
):
    make_profile(dests=[destinations["email"]])
    start = timezone.now() - timedelta(hours=2)
    incident(start=start, end_time=(start + timedelta(hours=1)).isoformat())
    run_once()
    texts = {m["Subject"]: m.get_body(("plain",)).get_content() for m in smtp_sink.messages}
    (start_text,) = [t for s, t in texts.items() if "Incident start" in s]
    (end_text,) = [t for s, t in texts.items() if "Incident end" in s]
    assert "Ended:" not in start_text and "Ended:" in end_text
