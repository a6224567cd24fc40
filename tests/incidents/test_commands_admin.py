"""The create_source command and the admin pages."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from fleetwatch.incidents.models import SourceSystem


def test_create_source_prints_a_working_token(db):
    out = StringIO()
    call_command("create_source", "nav-oslo", "--type", "NAV", stdout=out, stderr=StringIO())
    token = out.getvalue().strip()
    assert len(token) == 40
    source = SourceSystem.objects.get(name="nav-oslo")
    assert source.type_id == "nav" and source.user.username == "nav-oslo"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.post(
        "/api/v2/incidents/", {"start_time": "2026-11-20T10:00:00Z", "tags": []}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["source"]["name"] == "nav-oslo"


def test_create_source_twice_is_an_error(db):
    call_command("create_source", "a", "--type", "nav", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_source", "a", "--type", "nav", stdout=StringIO(), stderr=StringIO())


def test_admin_pages(client, superuser, post_incident):
    post_incident()  # open: end_time is the far-future sentinel
    post_incident(end_time=None)
    client.force_login(superuser)
    for url in [
        "/admin/",
        "/admin/incidents/incident/",
        "/admin/incidents/sourcesystem/",
        "/admin/incidents/event/",
        "/admin/authtoken/tokenproxy/",
    ]:
        assert client.get(url).status_code == 200, url
    pk = post_incident()["pk"]
    assert client.get(f"/admin/incidents/incident/{pk}/change/").status_code == 200
