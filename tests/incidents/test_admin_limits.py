"""The admin's forms refuse what the API refuses (``limits.py``): a form error, not a 503."""

import pytest

from fleetwatch.incidents import limits
from fleetwatch.incidents.models import SourceSystem, SourceSystemType, Tag


def errors_of(response) -> str:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect
    return str(response.context["adminform"].form.errors)


@pytest.mark.parametrize("length", [limits.SOURCE_TYPE_NAME_MAX_LENGTH + 1, 10_000])
def test_source_type_name_too_long(admin_client, length):
    response = admin_client.post("/admin/incidents/sourcesystemtype/add/", {"name": "t" * length})
    assert "has at most 100 characters" in errors_of(response)
    assert not SourceSystemType.objects.filter(name__startswith="ttt").exists()


@pytest.mark.parametrize("length", [limits.SOURCE_NAME_MAX_LENGTH + 1, 10_000])
def test_source_name_too_long(admin_client, make_user, length):
    SourceSystemType.objects.create(name="nav")
    user = make_user("machine", password=None)
    response = admin_client.post(
        "/admin/incidents/sourcesystem/add/",
        {"name": "n" * length, "type": "nav", "user": user.pk, "base_url": ""},
    )
    assert "has at most 200 characters" in errors_of(response)
    assert not SourceSystem.objects.exists()


def test_names_at_the_limit_are_stored(admin_client, make_user):
    name = "t" * limits.SOURCE_TYPE_NAME_MAX_LENGTH
    response = admin_client.post("/admin/incidents/sourcesystemtype/add/", {"name": name})
    assert response.status_code == 302
    user = make_user("machine", password=None)
    response = admin_client.post(
        "/admin/incidents/sourcesystem/add/",
        {"name": "n" * limits.SOURCE_NAME_MAX_LENGTH, "type": name, "user": user.pk},
    )
    assert response.status_code == 302, errors_of(response)


def test_tag_value_too_long(admin_client):
    value = "v" * (limits.TAG_VALUE_MAX_LENGTH + 1)
    response = admin_client.post("/admin/incidents/tag/add/", {"key": "host", "value": value})
    assert "has at most 500 characters" in errors_of(response)
    assert not Tag.objects.exists()


def test_a_source_type_differing_only_in_case_is_a_form_error(admin_client):
    """Names are stored lower-case: "NAVÉ" (past the ASCII-only upper-case check) beside
    "navé" is the form's uniqueness error, not the unique index's 500."""
    SourceSystemType.objects.create(name="navé")
    response = admin_client.post("/admin/incidents/sourcesystemtype/add/", {"name": "navÉ"})
    assert "already exists" in errors_of(response)
    assert list(SourceSystemType.objects.values_list("name", flat=True)) == ["navé"]
