"""Input the database cannot hold is a 400 naming the field (SQLite and PostgreSQL alike)."""

from notif_helpers import P2

HUGE = 10**20


def test_huge_pks(api, timeslot_pk):
    assert api.get(f"{P2}{HUGE}/").status_code == 404
    assert api.get(f"{P2}timeslots/{HUGE}/").status_code == 404
    body = {"name": "a", "timeslot": HUGE, "filters": [HUGE], "destinations": [HUGE]}
    response = api.post(P2, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"timeslot", "filters", "destinations"}


def test_nul_characters(api):
    response = api.post(
        f"{P2}destinations/",
        {"media": "webhook", "settings": {"url": "https://a.example.org/", "secret": "a\x00"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"secret": ["Null characters are not allowed."]}
    response = api.post(
        f"{P2}filters/", {"name": "x", "filter": {"source_types": ["a\x00"]}}, format="json"
    )
    assert response.status_code == 400
    assert "source_types" in response.json()["filter"]
    response = api.patch(f"{P2}settings/", {"time_zone": "UTC\x00"}, format="json")
    assert response.status_code == 400
    assert "time_zone" in response.json()
