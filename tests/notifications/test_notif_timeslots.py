"""Time slots, v1 and v2: defaults, all_day, past-midnight, validation, owner scoping."""

import pytest
from notif_helpers import P1, P2

from fleetwatch.notifications.models import Timeslot

WEEKDAYS = {"days": [1, 2, 3, 4, 5], "start": "08:00:00", "end": "16:00:00"}


def test_a_new_user_has_the_all_the_time_slot(api):
    slots = api.get(f"{P2}timeslots/").json()
    assert slots == [
        {
            "pk": slots[0]["pk"],
            "name": "All the time",
            "time_recurrences": [
                {
                    "days": [1, 2, 3, 4, 5, 6, 7],
                    "start": "00:00:00",
                    "end": "23:59:59.999999",
                    "all_day": True,
                }
            ],
        }
    ]


@pytest.mark.parametrize("prefix", [P1, P2])
def test_create_read_update_delete(api, prefix):
    response = api.post(
        f"{prefix}timeslots/",
        {"name": "Weekdays", "time_recurrences": [WEEKDAYS]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["time_recurrences"] == [WEEKDAYS]
    url = f"{prefix}timeslots/{body['pk']}/"
    assert api.get(url).json() == body
    night = {"days": [7, 1], "start": "22:00:00", "end": "06:00:00"}
    response = api.put(url, {"name": "Nights", "time_recurrences": [night]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["time_recurrences"] == [{**night, "days": [1, 7]}]
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_all_day_overrides_start_and_end(api):
    response = api.post(
        f"{P1}timeslots/",
        {
            "name": "Always",
            "time_recurrences": [
                {"days": [1, 2, 3, 4, 5, 6, 7], "all_day": True, "start": "09:00:00"}
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["time_recurrences"] == [
        {
            "days": [1, 2, 3, 4, 5, 6, 7],
            "start": "00:00:00",
            "end": "23:59:59.999999",
            "all_day": True,
        }
    ]


@pytest.mark.parametrize(
    ("recurrence", "field"),
    [
        ({"days": [0], "start": "08:00", "end": "09:00"}, "days"),
        ({"days": [8], "start": "08:00", "end": "09:00"}, "days"),
        ({"days": [], "start": "08:00", "end": "09:00"}, "days"),
        ({"days": "mon", "start": "08:00", "end": "09:00"}, "days"),
        ({"days": [1], "end": "09:00"}, "start"),
        ({"days": [1], "start": "08:00"}, "end"),
        ({"days": [1], "start": "25:00", "end": "09:00"}, "start"),
        # Django dropped an offset silently (12:00+05:00 stored as 12:00): refused instead.
        ({"days": [1], "start": "08:00:00+05:00", "end": "09:00"}, "start"),
        ({"days": [1], "start": "08:00", "end": "09:00:00Z"}, "end"),
        ({"days": [1], "start": "08:00", "end": "09:00", "colour": 1}, "colour"),
    ],
)
def test_bad_recurrences_are_named(api, recurrence, field):
    response = api.post(
        f"{P2}timeslots/", {"name": "x", "time_recurrences": [recurrence]}, format="json"
    )
    assert response.status_code == 400, response.content
    errors = response.json()["time_recurrences"]["0"]  # DRF names the list index
    assert field in errors


def test_names_are_unique_per_user(api, other_api):
    response = api.post(
        f"{P2}timeslots/", {"name": "All the time", "time_recurrences": []}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()
    # Another user's slot of the same name is no conflict.
    response = other_api.post(
        f"{P2}timeslots/", {"name": "Weekdays", "time_recurrences": []}, format="json"
    )
    assert response.status_code == 201
    response = api.post(
        f"{P2}timeslots/", {"name": "Weekdays", "time_recurrences": []}, format="json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("prefix", [P1, P2])
def test_another_users_slot_is_a_404(api, other, prefix):
    theirs = Timeslot.objects.get(user=other)
    assert api.get(f"{prefix}timeslots/{theirs.pk}/").status_code == 404
    assert (
        api.put(
            f"{prefix}timeslots/{theirs.pk}/", {"name": "x", "time_recurrences": []}, format="json"
        ).status_code
        == 404
    )
    assert api.delete(f"{prefix}timeslots/{theirs.pk}/").status_code == 404
    assert Timeslot.objects.filter(pk=theirs.pk).exists()
    assert theirs.pk not in {s["pk"] for s in api.get(f"{prefix}timeslots/").json()}


def test_unknown_fields_and_parameters_are_refused(api):
    response = api.post(
        f"{P2}timeslots/", {"name": "x", "time_recurrences": [], "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"colour": ["Unknown field."]}
    response = api.get(f"{P2}timeslots/?colour=red")
    assert response.status_code == 400
    assert "colour" in response.json()


def test_anonymous_is_refused(client):
    assert client.get(f"{P2}timeslots/").status_code in (401, 403)
