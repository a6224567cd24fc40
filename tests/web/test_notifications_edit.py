"""Editing and deleting notification objects in the console over HTTP: the owner only (another
user's object is a 404 and stays as it was), the API's rules (in use, synced, names), form
errors for bad input (never a 500), CSRF on every POST."""

from datetime import time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    TimeRecurrence,
    Timeslot,
)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice(enduser):
    return logged_in(enduser)


@pytest.fixture
def bob_user(make_user):
    return make_user("bob", email="bob@example.org")


@pytest.fixture
def bobs(bob_user):
    """One of each of bob's notification objects."""
    stored = Filter.objects.create(user=bob_user, name="bobs", filter={"maxlevel": 2})
    slot = Timeslot.objects.create(user=bob_user, name="nights")
    TimeRecurrence.objects.create(timeslot=slot, days=[1], start=time(22), end=time(6))
    hook = Destination.objects.create(
        user=bob_user,
        media="webhook",
        label="bobhook",
        settings={"url": "https://hooks.example.org/x", "secret": "bob-secret-value"},
    )
    profile = NotificationProfile.objects.create(user=bob_user, name="bobprof", timeslot=slot)
    profile.filters.set([stored])
    profile.destinations.set([hook])
    return {"filters": stored, "timeslots": slot, "destinations": hook, "profiles": profile}


def snapshot(obj) -> dict:
    obj.refresh_from_db()
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("kind", ["filters", "timeslots", "destinations", "profiles"])
def test_another_users_object_is_a_404_and_unchanged(alice, bobs, kind):
    obj = bobs[kind]
    before = snapshot(obj)
    assert alice.get(f"/notifications/{kind}/{obj.pk}/").status_code == 404
    form = {"name": "mine now", "label": "mine now", "address": "a@example.org", "days": ["1"]}
    assert alice.post(f"/notifications/{kind}/{obj.pk}/", form).status_code == 404
    assert alice.post(f"/notifications/{kind}/{obj.pk}/delete/").status_code == 404
    assert snapshot(obj) == before
    page = alice.get("/notifications/").content.decode()
    assert obj.pk and ("bobs" not in page and "bobhook" not in page and "bobprof" not in page)


def test_another_users_destination_cannot_be_tested(alice, bobs):
    response = alice.post(f"/notifications/destinations/{bobs['destinations'].pk}/test/")
    assert response.status_code == 404


def test_unknown_kind_and_pk_are_404(alice):
    assert alice.get("/notifications/users/1/").status_code == 404
    assert alice.get("/notifications/filters/999999/").status_code == 404


def test_maintenance_is_changed_by_staff_only(alice, superuser):
    window = PlannedMaintenance.objects.create(
        created_by=superuser, start_time=timezone.now() + timedelta(days=1), description="fw"
    )
    form = {"description": "hacked", "start_time": "2030-01-01T10:00"}
    assert alice.get(f"/notifications/maintenance/{window.pk}/").status_code == 403
    assert alice.post(f"/notifications/maintenance/{window.pk}/", form).status_code == 403
    assert alice.post(f"/notifications/maintenance/{window.pk}/delete/").status_code == 403
    window.refresh_from_db()
    assert window.description == "fw"
    staff = logged_in(superuser)
    response = staff.post(f"/notifications/maintenance/{window.pk}/", form)
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.description == "hacked" and window.start_time.year == 2030
    assert staff.post(f"/notifications/maintenance/{window.pk}/delete/").status_code == 302
    assert not PlannedMaintenance.objects.filter(pk=window.pk).exists()


def test_started_maintenance_keeps_its_start(superuser):
    started = timezone.now() - timedelta(hours=1)
    window = PlannedMaintenance.objects.create(created_by=superuser, start_time=started)
    staff = logged_in(superuser)
    response = staff.post(
        f"/notifications/maintenance/{window.pk}/", {"start_time": "2031-01-01T00:00"}
    )
    assert response.status_code == 400
    assert "Cannot be changed once the maintenance has started" in response.content.decode()
    window.refresh_from_db()
    assert window.start_time == started


def test_edit_filter_keeps_keys_the_form_does_not_show(alice, enduser):
    stored = Filter.objects.create(
        user=enduser, name="f", filter={"maxlevel": 3, "event_types": ["STA"]}
    )
    page = alice.get(f"/notifications/filters/{stored.pk}/").content.decode()
    assert "event_types" in page
    response = alice.post(
        f"/notifications/filters/{stored.pk}/", {"name": "g", "maxlevel": "1", "open": "true"}
    )
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.name == "g"
    assert stored.filter == {"maxlevel": 1, "open": True, "event_types": ["STA"]}


def test_edit_timeslot_replaces_its_recurrences(alice, enduser):
    slot = Timeslot.objects.create(user=enduser, name="office")
    TimeRecurrence.objects.create(timeslot=slot, days=[1, 2], start=time(8), end=time(16))
    TimeRecurrence.objects.create(timeslot=slot, days=[6], start=time(10), end=time(12))
    form = {
        "name": "office hours",
        "rows": "3",
        "days-0": ["1", "2", "3"],
        "start-0": "07:00",
        "end-0": "15:00",
        "days-1": ["6"],
        "start-1": "10:00",
        "end-1": "12:00",
        "remove-1": "on",
        "new-2": "1",
        "days-2": ["7"],
        "allday-2": "on",
    }
    assert alice.post(f"/notifications/timeslots/{slot.pk}/", form).status_code == 302
    slot.refresh_from_db()
    assert slot.name == "office hours"
    rows = [(r.days, r.start, r.end, r.all_day) for r in slot.time_recurrences.all()]
    assert rows[0] == ([1, 2, 3], time(7), time(15), False)
    assert rows[1][0] == [7] and rows[1][3] is True
    assert len(rows) == 2


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"name": "All the time", "rows": "1", "days-0": ["1"], "allday-0": "on"}, "name"),
        ({"name": "x", "rows": "1", "start-0": "08:00", "end-0": "09:00"}, "days"),
        ({"name": "x", "rows": "1", "days-0": ["1"], "start-0": "25:99"}, "start"),
        ({"name": "x", "rows": "zz"}, "rows"),
        ({"name": "", "rows": "0"}, "name"),
    ],
)
def test_bad_timeslot_edits_are_form_errors(alice, enduser, form, problem):
    slot = Timeslot.objects.create(user=enduser, name="office")
    TimeRecurrence.objects.create(timeslot=slot, days=[1], start=time(8), end=time(16))
    response = alice.post(f"/notifications/timeslots/{slot.pk}/", form)
    assert response.status_code == 400
    assert f"{problem}:" in response.content.decode()
    slot.refresh_from_db()
    assert slot.name == "office" and slot.time_recurrences.count() == 1


def test_edit_profile_and_refusals(alice, enduser, bobs):
    slot = Timeslot.objects.get(user=enduser, name="All the time")
    mine = Filter.objects.create(user=enduser, name="mine", filter={"maxlevel": 1})
    profile = NotificationProfile.objects.create(user=enduser, name="p", timeslot=slot)
    url = f"/notifications/profiles/{profile.pk}/"
    ok = {"name": "p2", "timeslot": slot.pk, "filters": [mine.pk], "delay_minutes": "5"}
    assert alice.post(url, ok).status_code == 302
    profile.refresh_from_db()
    assert (profile.name, profile.active, profile.delay_minutes) == ("p2", False, 5)
    assert list(profile.filters.all()) == [mine]
    for bad, field in [
        ({**ok, "filters": [bobs["filters"].pk]}, "filters"),
        ({**ok, "destinations": [bobs["destinations"].pk]}, "destinations"),
        ({**ok, "timeslot": bobs["timeslots"].pk}, "timeslot"),
        ({**ok, "filters": ["'; drop table"]}, "filters"),
        ({**ok, "delay_minutes": "-3"}, "delay_minutes"),
        ({**ok, "delay_minutes": "99999999999999999999"}, "delay_minutes"),
    ]:
        response = alice.post(url, bad)
        assert response.status_code == 400, bad
        assert f"{field}:" in response.content.decode()
    NotificationProfile.objects.create(user=enduser, name="other", timeslot=slot)
    response = alice.post(url, {**ok, "name": "other", "delay_minutes": "7"})
    assert response.status_code == 400 and "already have a profile" in response.content.decode()
    assert 'name="delay_minutes" type="number" min="1" value="7"' in response.text  # as typed
    profile.refresh_from_db()
    assert profile.name == "p2" and profile.delay_minutes == 5


def test_edit_destination_keeps_its_secret(alice, enduser):
    hook = Destination.objects.create(
        user=enduser,
        media="webhook",
        label="hook",
        settings={"url": "https://hooks.example.org/a", "secret": "s3cret-xyz"},
    )
    url = f"/notifications/destinations/{hook.pk}/"
    page = alice.get(url).content.decode()
    assert "s3cret-xyz" not in page and "one is set" in page
    form = {"label": "hook2", "address": "https://hooks.example.org/b"}
    assert alice.post(url, form).status_code == 302
    hook.refresh_from_db()
    assert hook.label == "hook2"
    assert hook.settings["url"] == "https://hooks.example.org/b"
    assert hook.settings["secret"] == "s3cret-xyz"
    response = alice.post(url, {"label": "hook2", "address": "ftp://nope"})
    assert response.status_code == 400 and "url" in response.content.decode()
    assert alice.post(url, {**form, "remove_secret": "on"}).status_code == 302
    hook.refresh_from_db()
    assert "secret" not in hook.settings


def test_managed_destination_keeps_its_address_and_is_not_deleted(alice, enduser):
    managed = Destination.objects.get(user=enduser, managed=True)
    url = f"/notifications/destinations/{managed.pk}/"
    response = alice.post(url, {"label": "work mail", "address": "evil@example.org"})
    assert response.status_code == 302
    managed.refresh_from_db()
    assert managed.label == "work mail"
    assert managed.settings == {"email_address": "alice@example.org"}
    response = alice.post(url + "delete/")
    assert response.status_code == 400 and "synced from your account" in response.content.decode()
    assert Destination.objects.filter(pk=managed.pk).exists()


def test_delete_refusals_and_deletes(alice, enduser):
    slot = Timeslot.objects.get(user=enduser, name="All the time")
    used = Filter.objects.create(user=enduser, name="used", filter={"maxlevel": 1})
    profile = NotificationProfile.objects.create(user=enduser, name="p", timeslot=slot)
    profile.filters.set([used])
    response = alice.post(f"/notifications/filters/{used.pk}/delete/")
    assert response.status_code == 400 and "used by notification profile" in response.text
    assert Filter.objects.filter(pk=used.pk).exists()
    response = alice.post(f"/notifications/profiles/{profile.pk}/delete/", follow=True)
    assert "Profile p deleted." in response.text
    assert alice.post(f"/notifications/filters/{used.pk}/delete/").status_code == 302
    assert alice.post(f"/notifications/timeslots/{slot.pk}/delete/").status_code == 302
    assert not Filter.objects.filter(pk=used.pk).exists()
    assert not Timeslot.objects.filter(pk=slot.pk).exists()
    assert alice.get(f"/notifications/filters/{used.pk}/delete/").status_code == 405


@pytest.mark.parametrize("path", ["filters/{f}/", "filters/{f}/delete/", "destinations/{d}/test/"])
def test_posts_without_csrf_token_are_refused(enduser, path):
    stored = Filter.objects.create(user=enduser, name="keep", filter={"maxlevel": 1})
    destination = Destination.objects.get(user=enduser, managed=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(enduser)
    response = client.post(
        "/notifications/" + path.format(f=stored.pk, d=destination.pk), {"name": "x"}
    )
    assert response.status_code == 403
    stored.refresh_from_db()
    assert stored.name == "keep"


def test_hostile_paths_and_values_are_404_or_form_errors(alice, superuser):
    assert alice.get("/notifications/filters/99999999999999999999999/").status_code == 404
    window = PlannedMaintenance.objects.create(
        created_by=superuser, start_time=timezone.now() + timedelta(days=1)
    )
    staff = logged_in(superuser)
    url = f"/notifications/maintenance/{window.pk}/"
    for start, end, field in [
        ("2030-13-45T10:00", "", "start_time"),
        ("2030-01-01T10:00", "2029-01-01T10:00", "end_time"),
        ("2030-01-01T10:00", "9999-12-31T23:59", None),
    ]:
        response = staff.post(url, {"start_time": start, "end_time": end})
        if field is None:
            assert response.status_code in (302, 400)
            continue
        assert response.status_code == 400, (start, end)
        assert f"{field}:" in response.text
    response = staff.post(url, {"start_time": "2030-01-01T10:00", "duration_minutes": "1e9"})
    assert response.status_code == 400 and "duration_minutes:" in response.text
    response = staff.post(url, {"start_time": "2030-01-01T10:00", "recurrence": "FREQ=NOPE"})
    assert response.status_code == 400 and "recurrence:" in response.text
