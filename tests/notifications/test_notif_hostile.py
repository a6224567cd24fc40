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


# --- the sweep: every field of every writable notification endpoint --------------------------

import pytest  # noqa: E402
from notif_helpers import P1  # noqa: E402

from hostile_helpers import (  # noqa: E402
    LONE_SURROGATE,
    assert_clean_refusal,
    assert_not_server_error,
    encode,
    field_cases,
    names,
)


@pytest.fixture
def world(api, enduser, make_filter, timeslot_pk):
    """One of each of the user's objects, and the valid bodies that create them."""
    filter_pk = make_filter({"tags": ["host=a"]}, name="f0")
    bodies = {
        "timeslots": {
            "name": "office",
            "time_recurrences": [{"days": [1, 2], "start": "08:00:00", "end": "16:00:00"}],
        },
        "filters": {"name": "f1", "filter": {"tags": ["host=b"], "maxlevel": 3}, "public": False},
        "destinations": {
            "media": "email",
            "label": "work",
            "settings": {"email_address": "w@a.org"},
        },
        "": {
            "name": "p",
            "timeslot": timeslot_pk,
            "filters": [filter_pk],
            "destinations": [],
            "active": True,
            "delay_minutes": 5,
        },
    }
    pks = {}
    for kind, body in bodies.items():
        response = api.post(f"{P2}{kind + '/' if kind else ''}", body, format="json")
        assert response.status_code == 201, response.content
        pks[kind] = response.json()["pk"]
        # The next creation must not collide with this one's unique name/label.
        if "name" in body:
            bodies[kind] = {**body, "name": body["name"] + "x"}
    bodies["destinations"] = {**bodies["destinations"], "label": "home"}
    bodies["destinations"]["settings"] = {"email_address": "h@a.org"}
    return bodies, pks


KINDS = ["timeslots", "filters", "destinations", ""]


def url(kind: str, pk: int | None = None) -> str:
    base = f"{P2}{kind + '/' if kind else ''}"
    return base if pk is None else f"{base}{pk}/"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["post", "patch", "put"])
def test_every_field_bad_value(api, world, kind, method):
    bodies, pks = world
    target = url(kind) if method == "post" else url(kind, pks[kind])
    if method == "put" and kind == "destinations":
        pytest.skip("PUT is a 405 for destinations, as Argus")
    problems = []
    for field, label, body in field_cases(bodies[kind]):
        response = getattr(api, method)(target, encode(body), content_type="application/json")
        problems += judge(response, field, label, body[field])
        if response.status_code == 201:  # out of the way of the next creation's uniqueness
            assert api.delete(url(kind, response.json()["pk"])).status_code == 204
    assert not problems, problems


#: Values a field may really accept (then they must read back as sent).
MAY_PASS = {"null", "int", "huge-int", "bool", "negative", "list", "object", "float"}


def judge(response, field: str, label: str, value=None) -> list:
    """What is wrong with the answer to a body whose ``field`` holds a ``label`` value."""
    if response.status_code < 300:
        return [] if label in MAY_PASS else [(field, label, response.status_code)]
    try:
        assert_clean_refusal(response)
        # A medium's settings are checked key by key, and name the key (as Argus).
        named = {field} | (set(value) if field == "settings" and isinstance(value, dict) else set())
        assert named & names(response.json()), response.json()
    except AssertionError as exc:
        return [(field, label, response.status_code, str(exc)[:300])]
    return []


@pytest.mark.parametrize("kind", KINDS)
def test_surrogate_and_unknown_keys(api, world, kind):
    bodies, pks = world
    for body in (
        {**bodies[kind], LONE_SURROGATE: 1},
        {**bodies[kind], "colour": "red"},
    ):
        for method, target in (("post", url(kind)), ("patch", url(kind, pks[kind]))):
            response = getattr(api, method)(target, encode(body), content_type="application/json")
            assert_clean_refusal(response)


@pytest.mark.parametrize("kind", [*KINDS, "settings", "preview", "filterpreview"])
@pytest.mark.parametrize(
    "raw, content_type",
    [
        (b"", "application/json"),
        (b"{", "application/json"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
        (b'"x"', "application/json"),
        (b"a=b", "text/plain"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json"),
        (b'{"name": "\\udfff"}', "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_malformed_bodies(api, world, kind, raw, content_type):
    target = f"{P2}{kind}/" if kind in ("settings", "preview", "filterpreview") else url(kind)
    method = "patch" if kind == "settings" else "post"
    response = getattr(api, method)(target, raw, content_type=content_type)
    if raw == b"" and kind in ("settings", "preview", "filterpreview"):
        # No body is an empty object: a PATCH changing nothing, an empty filter selecting none.
        assert response.status_code == 200, response.content
        return
    assert_clean_refusal(response)


@pytest.mark.parametrize("kind", ["timeslots", "filters", "destinations", ""])
@pytest.mark.parametrize("pk", ["0", "-1", str(10**30), "abc", "%F0%9F%92%A9", "1.5"])
def test_odd_ids_in_the_path(api, world, kind, pk):
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"{url(kind)}{pk}/", {}, format="json")
        assert response.status_code == 404, (method, pk, response.status_code)


@pytest.mark.parametrize("kind", ["timeslots", "filters", "destinations", ""])
def test_other_users_objects_are_404(world, other_api, kind):
    _, pks = world
    target = url(kind, pks[kind])
    assert other_api.get(target).status_code == 404
    assert other_api.patch(target, {"name": "mine"}, format="json").status_code == 404
    assert other_api.put(target, {"name": "mine"}, format="json").status_code in (404, 405)
    assert other_api.delete(target).status_code == 404


def test_other_users_parts_cannot_be_borrowed(world, other_api):
    """A profile of mine naming your time slot, filter or destination: 400 naming each."""
    _, pks = world
    other_slot = next(
        s["pk"] for s in other_api.get(f"{P2}timeslots/").json() if s["name"] == "All the time"
    )
    body = {
        "name": "stolen",
        "timeslot": pks["timeslots"],
        "filters": [pks["filters"]],
        "destinations": [pks["destinations"]],
    }
    response = other_api.post(P2, body, format="json")
    assert_clean_refusal(response)
    assert set(response.json()) == {"timeslot", "filters", "destinations"}
    mine = other_api.post(
        P2, {**body, "timeslot": other_slot, "filters": [], "destinations": []}, format="json"
    )
    assert mine.status_code == 201, mine.content
    for field, value in (
        ("timeslot", pks["timeslots"]),
        ("filters", [pks["filters"]]),
        ("destinations", [pks["destinations"]]),
    ):
        response = other_api.patch(url("", mine.json()["pk"]), {field: value}, format="json")
        assert_clean_refusal(response, field)


def test_source_user_is_refused_or_kept_to_its_own(source_api, world):
    _, pks = world
    for kind in KINDS:
        assert source_api.get(url(kind, pks[kind])).status_code == 404


def test_v1_sweep(api, world, timeslot_pk):
    _, pks = world
    bodies = {
        f"{P1}filters/": {"name": "v1f", "filter_string": '{"sourceSystemIds": [], "tags": []}'},
        f"{P1}timeslots/": {
            "name": "v1t",
            "time_recurrences": [{"days": [1], "start": "08:00:00", "end": "09:00:00"}],
        },
        P1: {"timeslot": timeslot_pk, "filters": [pks["filters"]], "media": ["EM"], "active": True},
        "/api/v1/auth/phone-number/": {"phone_number": "+4790909090"},
    }
    problems = []
    for target, valid in bodies.items():
        for field, label, body in field_cases(valid):
            response = api.post(target, encode(body), content_type="application/json")
            problems += [(target, *p) for p in judge(response, field, label, body[field])]
            if response.status_code == 201:
                assert api.delete(f"{target}{response.json()['pk']}/").status_code == 204
        assert_not_server_error(
            api.post(target, encode({**valid, LONE_SURROGATE: 1}), content_type="application/json")
        )
    assert not problems, problems


def test_planned_maintenance_sweep(client_for, superuser, api, world):
    _, pks = world
    staff = client_for(superuser)
    valid = {
        "start_time": "2030-01-01T00:00:00Z",
        "end_time": "2030-01-02T00:00:00Z",
        "description": "upgrade",
        "filters": [pks["filters"]],
    }
    created = staff.post("/api/v2/plannedmaintenance/", valid, format="json")
    assert created.status_code == 201, created.content
    target = f"/api/v2/plannedmaintenance/{created.json()['pk']}/"
    for field, label, body in field_cases(valid):
        for method, where in (("post", "/api/v2/plannedmaintenance/"), ("patch", target)):
            response = getattr(staff, method)(where, encode(body), content_type="application/json")
            if response.status_code < 300:
                assert label in {"null", "list", "object"} or field == "description", (
                    method,
                    field,
                    label,
                )
                continue
            assert_clean_refusal(response, field)
    # An end user reads maintenance but may not write it.
    assert api.post("/api/v2/plannedmaintenance/", valid, format="json").status_code == 403
    assert api.patch(target, {"description": "x"}, format="json").status_code == 403
    assert api.delete(target).status_code == 403


@pytest.mark.parametrize(
    "query",
    ["?status=%ED%A0%80", "?medium=x", "?cursor=%00", "?page_size=-1", "?page_size=99999999999"],
)
def test_deliveries_odd_queries(api, query):
    response = api.get(f"{P2}deliveries/{query}")
    assert_not_server_error(response)


def test_settings_and_preview_fields(api):
    problems = []
    for field, label, body in field_cases({"time_zone": "Europe/Oslo"}):
        response = api.patch(f"{P2}settings/", encode(body), content_type="application/json")
        problems += judge(response, field, label, body[field])
    assert api.get(f"{P2}settings/").json()["time_zone"] in ("", "Europe/Oslo")
    blob = {"sourceSystemIds": [1], "tags": ["host=a"], "maxlevel": 3, "open": True}
    for route in ("preview/", "filterpreview/"):
        for field, label, body in field_cases(blob):
            response = api.post(f"{P2}{route}", encode(body), content_type="application/json")
            problems += judge(response, field, label, body[field])
    assert not problems, problems


@pytest.mark.parametrize("bad", [1.5, "1.0", True, "１", -3, 0])
def test_related_ids_are_whole_numbers(api, timeslot_pk, bad):
    """``1.5`` was read as pk 1 (Django's ``int()``): a typo silently named another object."""
    body = {"name": "p", "timeslot": bad, "filters": [bad], "destinations": [bad]}
    response = api.post(P2, encode(body), content_type="application/json")
    assert_clean_refusal(response)
    assert set(response.json()) == {"timeslot", "filters", "destinations"}
