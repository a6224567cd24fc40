"""Planned maintenance (v2): staff-only writes, one-off and recurring (RRULE) windows."""

import pytest

from fleetwatch.notifications.models import PlannedMaintenance

PM = "/api/v2/plannedmaintenance/"


@pytest.fixture
def staff_api(make_user, client_for):
    return client_for(make_user("staffer", is_staff=True))


def test_staff_create_everyone_reads(staff_api, api, make_filter):
    f = make_filter({"tags": ["host=r1"]})
    body = {
        "start_time": "2026-12-06T22:00:00Z",
        "end_time": "2026-12-07T02:00:00Z",
        "description": "router swap",
        "filters": [f],
    }
    response = staff_api.post(PM, body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["description"] == "router swap"
    assert created["filters"] == [f]
    assert created["recurrence"] == ""
    assert created["duration"] is None
    assert api.get(PM).json() == [created]
    assert api.get(f"{PM}{created['pk']}/").json() == created


def test_writes_need_staff(api, staff_api):
    body = {"start_time": "2026-12-06T22:00:00Z"}
    assert api.post(PM, body, format="json").status_code == 403
    pk = staff_api.post(PM, body, format="json").json()["pk"]
    assert api.patch(f"{PM}{pk}/", {"description": "x"}, format="json").status_code == 403
    assert api.delete(f"{PM}{pk}/").status_code == 403
    response = staff_api.patch(f"{PM}{pk}/", {"description": "x"}, format="json")
    assert response.status_code == 200
    assert response.json()["end_time"] is None  # no end
    assert staff_api.delete(f"{PM}{pk}/").status_code == 204
    assert not PlannedMaintenance.objects.exists()


def test_recurring_maintenance(staff_api):
    body = {
        "start_time": "2026-12-06T02:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SU",
        "duration": "02:00:00",
        "description": "weekly patch window",
    }
    response = staff_api.post(PM, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["recurrence"] == "FREQ=WEEKLY;BYDAY=SU"
    assert response.json()["duration"] == "02:00:00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_time": "2026-12-06T01:00:00Z"}, "end_time"),
        ({"start_time": "soon"}, "start_time"),
        ({"recurrence": "FREQ=SOMETIMES", "duration": "01:00:00"}, "recurrence"),
        ({"recurrence": "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY"}, "duration"),
        ({"duration": "01:00:00"}, "duration"),
        ({"recurrence": "FREQ=DAILY", "duration": "-01:00:00"}, "duration"),
        ({"recurrence": "FREQ=DAILY", "duration": "999999999 00:00:00"}, "duration"),
        ({"recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=31", "duration": "01:00"}, "recurrence"),
        ({"recurrence": "FREQ=DAILY;UNTIL=20270101T000000", "duration": "01:00"}, "recurrence"),
        ({"description": "nul\x00"}, "description"),
        ({"filters": [999999]}, "filters"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_maintenance_is_a_400_naming_the_field(staff_api, change, field):
    body = {"start_time": "2026-12-06T02:00:00Z", **change}
    response = staff_api.post(PM, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_v1_has_no_planned_maintenance(api):
    assert api.get("/api/v1/plannedmaintenance/").status_code == 404


def test_started_and_long_ended_maintenance_is_protected(staff_api):
    started = staff_api.post(PM, {"start_time": "2020-01-01T00:00:00Z"}, format="json").json()["pk"]
    response = staff_api.patch(
        f"{PM}{started}/", {"start_time": "2020-01-02T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert "start_time" in response.json()
    response = staff_api.patch(f"{PM}{started}/", {"description": "still on"}, format="json")
    assert response.status_code == 200
    ended = staff_api.post(
        PM,
        {"start_time": "2020-01-01T00:00:00Z", "end_time": "2020-01-02T00:00:00Z"},
        format="json",
    ).json()["pk"]
    response = staff_api.patch(f"{PM}{ended}/", {"description": "x"}, format="json")
    assert response.status_code == 400
    assert "end_time" in response.json()


def test_metadata_lists_the_media_plugins(client):
    plugins = client.get("/api/").json()["destination_plugins"]
    assert "fleetwatch.notifications.media.webhook.WebhookMedium" in plugins


def test_a_leap_day_rule_is_fine(staff_api):
    body = {
        "start_time": "2026-01-01T00:00:00Z",
        "recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "duration": "01:00:00",
    }
    assert staff_api.post(PM, body, format="json").status_code == 201
