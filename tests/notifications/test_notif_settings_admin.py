"""The user's time zone (API and model), the admin pages of every notifications model, and
the defaults made for existing users by the migration."""

import pytest
from django.conf import settings
from django.urls import reverse
from notif_helpers import P2

from fleetwatch.notifications.models import (
    Destination,
    Filter,
    NotificationProfile,
    PlannedMaintenance,
    Timeslot,
)

S = f"{P2}settings/"


def test_time_zone_defaults_to_the_hub_and_can_be_set(api, enduser):
    assert api.get(S).json() == {"time_zone": "", "effective_time_zone": settings.TIME_ZONE}
    response = api.patch(S, {"time_zone": "Europe/Oslo"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"time_zone": "Europe/Oslo", "effective_time_zone": "Europe/Oslo"}
    enduser.refresh_from_db()
    assert str(enduser.tzinfo) == "Europe/Oslo"
    response = api.put(S, {"time_zone": ""}, format="json")
    assert response.json()["effective_time_zone"] == settings.TIME_ZONE


@pytest.mark.parametrize("value", ["Mars/Olympus", "../etc/passwd", "x" * 65])
def test_bad_time_zone_is_a_400(api, value):
    response = api.patch(S, {"time_zone": value}, format="json")
    assert response.status_code == 400
    assert "time_zone" in response.json()


def test_an_empty_patch_changes_nothing(api):
    """It was a KeyError (a 500); schemathesis found it."""
    api.patch(S, {"time_zone": "Europe/Oslo"}, format="json")
    response = api.patch(S, {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["time_zone"] == "Europe/Oslo"


def test_settings_refuse_unknown_fields(api):
    response = api.patch(S, {"timezone": "UTC"}, format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.parametrize(
    "model", [Timeslot, Filter, Destination, NotificationProfile, PlannedMaintenance]
)
def test_admin_pages(admin_client, model):
    meta = model._meta
    assert admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    response = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    assert response.status_code == 200


def test_admin_refuses_bad_destination_settings_and_hides_secrets(admin_client, superuser):
    url = reverse("admin:notifications_destination_add")
    response = admin_client.post(
        url,
        {"user": superuser.pk, "media": "webhook", "label": "", "settings": '{"url": "ftp://x"}'},
    )
    assert response.status_code == 200  # the form again, with the error
    assert not Destination.objects.filter(media="webhook").exists()
    destination = Destination.objects.create(
        user=superuser,
        media="webhook",
        settings={"url": "https://h.example.org/", "secret": "topsecret1"},
    )
    page = admin_client.get(
        reverse("admin:notifications_destination_change", args=[destination.pk])
    )
    assert page.status_code == 200
    assert "topsecret1" not in page.content.decode()


def test_admin_refuses_a_bad_rrule(admin_client, superuser):
    response = admin_client.post(
        reverse("admin:notifications_plannedmaintenance_add"),
        {
            "start_time_0": "2026-12-06",
            "start_time_1": "02:00:00",
            "recurrence": "FREQ=SOMETIMES",
            "duration": "01:00:00",
            "description": "x",
            "created_by": superuser.pk,
        },
    )
    assert response.status_code == 200
    assert b"recurrence" in response.content
    assert not PlannedMaintenance.objects.exists()


def test_user_time_zone_in_the_user_admin(admin_client, enduser):
    page = admin_client.get(reverse("admin:accounts_user_change", args=[enduser.pk]))
    assert b"time_zone" in page.content


def test_admin_refuses_a_bad_filter_blob(admin_client, superuser):
    response = admin_client.post(
        reverse("admin:notifications_filter_add"),
        {"user": superuser.pk, "name": "bad", "filter": '{"maxlevel": 9}'},
    )
    assert response.status_code == 200
    assert b"maxlevel" in response.content
    assert not Filter.objects.exists()


def test_the_migration_gives_existing_users_their_defaults(enduser):
    """Users from before the notifications app get what the post_save signal gives new ones."""
    import importlib

    from django.apps import apps

    from fleetwatch.accounts.models import PhoneNumber

    migration = importlib.import_module(
        "fleetwatch.notifications.migrations.0001_notif_api_initial"
    )
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4790909090")
    Timeslot.objects.all().delete()
    Destination.objects.all().delete()
    migration.add_user_defaults(apps, None)
    migration.add_user_defaults(apps, None)  # idempotent
    assert list(Timeslot.objects.filter(user=enduser).values_list("name", flat=True)) == [
        "All the time"
    ]
    assert Destination.objects.filter(user=enduser, managed=True, media="email").count() == 1
    assert Destination.objects.get(phone_number=number).managed
