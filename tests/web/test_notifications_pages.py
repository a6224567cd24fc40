"""Notifications page over HTTP: filters (blob via filterblob) and their preview, time slots
on the week grid, profiles; the incident list's saved filter and profile views."""

import pytest
from django.test import Client
from django.utils import timezone

from fleetwatch.incidents.models import INFINITY, Incident
from fleetwatch.notifications.models import Filter, NotificationProfile, Timeslot


@pytest.fixture
def client(enduser):
    client = Client()
    client.force_login(enduser)
    return client


@pytest.fixture
def two_incidents(source):
    now = timezone.now()
    return [
        Incident.objects.create(
            source=source, start_time=now, end_time=INFINITY, description="Freezer", level=1
        ),
        Incident.objects.create(
            source=source, start_time=now, end_time=now, description="Printer", level=5
        ),
    ]


def test_preview_matches_through_filterblob(client, two_incidents):
    page = client.get("/notifications/filters/preview/?maxlevel=2").content.decode()
    assert "Matches 1 incident" in page and "Freezer" in page and "Printer" not in page
    page = client.get("/notifications/filters/preview/").content.decode()
    assert "An empty filter matches nothing" in page
    page = client.get("/notifications/filters/preview/?tags=nokeyvalue").content.decode()
    assert 'role="alert"' in page and "tags" in page


def test_filter_timeslot_profile(client, enduser, two_incidents):
    client.post("/notifications/filters/", {"name": "critical", "maxlevel": "1", "open": "true"})
    stored = Filter.objects.get(user=enduser, name="critical")
    assert stored.filter == {"open": True, "maxlevel": 1}
    response = client.post(
        "/notifications/timeslots/",
        {"name": "office", "days": ["1", "2", "3", "4", "5"], "start": "08:00", "end": "16:00"},
    )
    assert response.status_code == 302
    slot = Timeslot.objects.get(user=enduser, name="office")
    page = client.get("/notifications/").content.decode()
    assert page.count("08:00–16:00") == 5
    client.post(
        "/notifications/profiles/",
        {"name": "day shift", "timeslot": slot.pk, "filters": [stored.pk], "active": "on"},
    )
    profile = NotificationProfile.objects.get(user=enduser, name="day shift")
    assert list(profile.filters.all()) == [stored]
    rows = client.get(f"/?notificationprofile_pk={profile.pk}").context["listing"].rows
    assert [i.description for i in rows] == ["Freezer"]
    rows = client.get(f"/?filter_pk={stored.pk}").context["listing"].rows
    assert [i.description for i in rows] == ["Freezer"]


def test_refusals_are_shown(client, enduser, make_user):
    response = client.post(
        "/notifications/timeslots/", {"name": "never", "start": "08:00", "end": "09:00"}
    )
    assert response.status_code == 400 and b"days" in response.content
    assert not Timeslot.objects.filter(name="never").exists()
    other_slot = Timeslot.objects.filter(user=make_user("bob")).first()
    response = client.post("/notifications/profiles/", {"name": "x", "timeslot": other_slot.pk})
    assert response.status_code == 400
    response = client.post("/notifications/filters/", {"name": "", "maxlevel": "1"})
    assert response.status_code == 400


def test_someone_elses_private_filter_is_refused_in_the_list(client, make_user):
    private = Filter.objects.create(user=make_user("bob"), name="bobs", filter={"maxlevel": 1})
    response = client.get(f"/?filter_pk={private.pk}")
    assert response.status_code == 200 and response.context["listing"].errors


def test_planned_maintenance_staff_only(client, superuser, enduser):
    from fleetwatch.notifications.models import PlannedMaintenance

    form = {"description": "switch upgrade", "start_time": "2030-01-01T02:00"}
    assert client.post("/notifications/maintenance/", form).status_code == 403
    staff = Client()
    staff.force_login(superuser)
    stored = Filter.objects.create(user=superuser, name="core", filter={"tags": ["site=core"]})
    response = staff.post("/notifications/maintenance/", {**form, "filters": [stored.pk]})
    assert response.status_code == 302
    window = PlannedMaintenance.objects.get()
    assert list(window.filters.all()) == [stored] and window.created_by == superuser
    assert "switch upgrade" in client.get("/notifications/").content.decode()
    bad = {**form, "recurrence": "FREQ=NEVERLY"}
    response = staff.post("/notifications/maintenance/", bad)
    assert response.status_code == 400 and PlannedMaintenance.objects.count() == 1


def test_destinations(client, enduser):
    from fleetwatch.notifications.models import Destination

    form = {"media": "webhook", "address": "https://hooks.example.org/x", "label": "ops hook"}
    response = client.post("/notifications/destinations/", {**form, "secret": "s3cret-value"})
    assert response.status_code == 302
    hook = Destination.objects.get(user=enduser, media="webhook")
    assert hook.settings["url"] == "https://hooks.example.org/x"
    assert hook.settings["secret"] == "s3cret-value"
    page = client.get("/notifications/").content.decode()
    assert "ops hook" in page and "s3cret-value" not in page
    again = client.post("/notifications/destinations/", form)
    assert again.status_code == 400 and Destination.objects.filter(media="webhook").count() == 1
    bad = client.post("/notifications/destinations/", {"media": "webhook", "address": "ftp://x"})
    assert bad.status_code == 400 and b"http" in bad.content
