"""Phone numbers over HTTP (API v1 only): own numbers only, valid number series, E.164."""

import pytest

from fleetwatch.accounts.models import PhoneNumber

LIST = "/api/v1/auth/phone-number/"
INVALID = {"phone_number": ["Enter a valid phone number (e.g. +12125552368)."]}


def detail(pk: int) -> str:
    return f"{LIST}{pk}/"


@pytest.fixture
def bobs_number(make_user) -> PhoneNumber:
    return PhoneNumber.objects.create(user=make_user("bob"), phone_number="+4722225555")


# Both numbers in the spec's examples are in valid Norwegian series, so they are used as is.
@pytest.mark.parametrize("number", ["+4767676767", "+4790909090"])
def test_spec_example_post_round_trips(api, enduser, number):
    response = api.post(LIST, {"pk": 2, "phone_number": number}, format="json")
    assert response.status_code == 201
    stored = PhoneNumber.objects.get(user=enduser)
    assert response.json() == {"pk": stored.pk, "user": enduser.pk, "phone_number": number}
    assert stored.phone_number == number


def test_pk_and_user_in_the_body_are_ignored(api, enduser, bobs_number):
    response = api.post(
        LIST,
        {"pk": bobs_number.pk, "user": bobs_number.user_id, "phone_number": "+4790909090"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["pk"] != bobs_number.pk
    assert response.json()["user"] == enduser.pk
    bobs_number.refresh_from_db()
    assert bobs_number.phone_number == "+4722225555"


def test_list_shows_only_own_numbers_as_a_plain_array(api, enduser, bobs_number):
    first = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    second = PhoneNumber.objects.create(user=enduser, phone_number="+4790909090")
    response = api.get(LIST)
    assert response.status_code == 200
    assert response.json() == [
        {"pk": first.pk, "user": enduser.pk, "phone_number": "+4767676767"},
        {"pk": second.pk, "user": enduser.pk, "phone_number": "+4790909090"},
    ]


def test_list_empty(api):
    assert api.get(LIST).json() == []


def test_get_one(api, enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    response = api.get(detail(number.pk))
    assert response.status_code == 200
    assert response.json() == {"pk": number.pk, "user": enduser.pk, "phone_number": "+4767676767"}


def test_put_updates_with_the_spec_example_body(api, enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    response = api.put(detail(number.pk), {"pk": 2, "phone_number": "+4790909090"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"pk": number.pk, "user": enduser.pk, "phone_number": "+4790909090"}
    number.refresh_from_db()
    assert number.phone_number == "+4790909090"


def test_patch_updates(api, enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    response = api.patch(detail(number.pk), {"phone_number": "+12125552368"}, format="json")
    assert response.status_code == 200
    assert response.json()["phone_number"] == "+12125552368"


def test_delete(api, enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    response = api.delete(detail(number.pk))
    assert response.status_code == 204
    assert not PhoneNumber.objects.filter(pk=number.pk).exists()
    assert api.get(detail(number.pk)).status_code == 404


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("+47 909 09 090", "+4790909090"), ("+47-22-22-55-55", "+4722225555")],
)
def test_number_is_stored_in_e164(api, enduser, typed, stored):
    response = api.post(LIST, {"phone_number": typed}, format="json")
    assert response.status_code == 201
    assert response.json()["phone_number"] == stored
    assert PhoneNumber.objects.get(user=enduser).phone_number == stored


@pytest.mark.parametrize(
    "number",
    [
        "+4712345678",  # possible length, but no Norwegian series starts with 1
        "+4790909",  # too short
        "90909090",  # no country code: only international numbers are accepted
        "not a number",
        "+" + "9" * 30,
    ],
)
def test_invalid_number_is_400(api, enduser, number):
    response = api.post(LIST, {"phone_number": number}, format="json")
    assert response.status_code == 400
    assert response.json() == INVALID
    assert not PhoneNumber.objects.exists()


def test_invalid_number_on_put_keeps_the_old_one(api, enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    response = api.put(detail(number.pk), {"phone_number": "+4700000000"}, format="json")
    assert response.status_code == 400
    assert response.json() == INVALID
    number.refresh_from_db()
    assert number.phone_number == "+4767676767"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"phone_number": ["This field is required."]}),
        ({"phone_number": ""}, {"phone_number": ["This field may not be blank."]}),
        ({"phone_number": None}, {"phone_number": ["This field may not be null."]}),
        (
            {"phone_number": "+4790909090", "media": "sms"},
            {"media": ["Unknown field."]},
        ),
    ],
)
def test_bad_bodies_name_the_field(api, body, errors):
    response = api.post(LIST, body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not PhoneNumber.objects.exists()


def test_unknown_field_on_put(api, enduser):
    number = PhoneNumber.objects.create(user=enduser, phone_number="+4767676767")
    response = api.put(
        detail(number.pk), {"phone_number": "+4790909090", "label": "work"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"label": ["Unknown field."]}


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_other_users_number_is_404(api, bobs_number, method):
    body = None if method == "get" else {"phone_number": "+4790909090"}
    response = getattr(api, method)(detail(bobs_number.pk), body, format="json")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}
    bobs_number.refresh_from_db()
    assert bobs_number.phone_number == "+4722225555"


def test_unknown_pk_is_404(api):
    assert api.get(detail(999999)).status_code == 404


def test_phone_numbers_need_authentication(anon, bobs_number):
    assert anon.get(LIST).status_code == 401
    response = anon.post(LIST, {"phone_number": "+4790909090"}, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert anon.get(detail(bobs_number.pk)).status_code == 401


def test_phone_numbers_are_not_in_v2(api):
    assert api.get("/api/v2/auth/phone-number/").status_code == 404
