"""Managing connectors: the /api/v2/connectors/ API and the ``fleetwatch connector`` command."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fleetwatch.connectors.models import Connector, ConnectorState

URL = "/api/v2/connectors/"
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}


@pytest.fixture
def admin_api(client_for, superuser):
    return client_for(superuser)


def test_create_list_update_via_api(admin_api, emulator):
    server = emulator("7signal", seed=1, devices=20)
    body = {
        "name": "wifi",
        "vendor": "7signal",
        "base_url": server.url,
        "credentials": CREDS,
        "poll_interval": 120,
        "options": {"agents_every": 600},
    }
    created = admin_api.post(URL, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert "credentials" not in data and "demo-secret" not in created.content.decode()
    assert data["health"]["consecutive_failures"] == 0 and data["health"]["next_run"] == "due"
    connector = Connector.objects.get(name="wifi")
    assert connector.source.type_id == "7signal" and connector.credentials == CREDS
    listed = admin_api.get(URL).json()
    assert [c["name"] for c in listed] == ["wifi"]
    patched = admin_api.patch(
        f"{URL}{data['pk']}/",
        {"enabled": False, "credentials": {**CREDS, "client_secret": "new"}},
        format="json",
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    connector.refresh_from_db()
    assert connector.credentials["client_secret"] == "new"
    renamed = admin_api.patch(f"{URL}{data['pk']}/", {"vendor": "sensaphone"}, format="json")
    assert renamed.status_code == 400 and "vendor" in renamed.json()
    tested = admin_api.post(f"{URL}{data['pk']}/test/")
    assert tested.status_code == 502 and tested.json()["ok"] is False  # the secret is wrong now
    admin_api.patch(f"{URL}{data['pk']}/", {"credentials": CREDS}, format="json")
    tested = admin_api.post(f"{URL}{data['pk']}/test/")
    assert tested.status_code == 200 and tested.json()["seen"]["organization"] == "fleetwatch-demo"
    assert admin_api.post(f"{URL}{data['pk']}/sync/").status_code == 202
    assert admin_api.delete(f"{URL}{data['pk']}/").status_code == 405
    assert Connector.objects.filter(pk=data["pk"]).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vendor": "pigeon"}, "vendor"),
        ({"credentials": {"client_id": "x"}}, "credentials"),
        ({"credentials": {**CREDS, "extra": "1"}}, "credentials"),
        ({"poll_interval": 1}, "poll_interval"),
        ({"base_url": "not a url"}, "base_url"),
        ({"name": "Bad Name"}, "name"),
        ({"colour": "red"}, "colour"),
        ({"options": [1]}, "options"),
    ],
)
def test_bad_connector_bodies_are_named(admin_api, change, field):
    body = {
        "name": "wifi",
        "vendor": "7signal",
        "base_url": "http://127.0.0.1:9/",
        "credentials": CREDS,
        **change,
    }
    response = admin_api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Connector.objects.exists()


def test_only_staff(api):
    assert api.get(URL).status_code == 403


def run(*args) -> str:
    out = StringIO()
    call_command("connector", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_cli_lifecycle(db, emulator, tmp_path):
    server = emulator("7signal", seed=2, devices=20)
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(CREDS))
    out = run(
        "add",
        "wifi",
        "--vendor",
        "7signal",
        "--url",
        server.url,
        "--credentials-file",
        str(creds),
        "--interval",
        "90",
        "--option",
        'retry={"base_delay": 0.01}',
    )
    assert "Created connector wifi" in out
    assert "wifi" in run("list") and "never" in run("list")
    shown = json.loads(run("show", "wifi"))
    assert shown["credentials"] == ["client_id", "client_secret"]  # names only
    assert "demo-secret" not in json.dumps(shown)
    assert "OK" in run("test", "wifi")
    summary = json.loads(run("sync", "wifi"))
    assert summary["status"] == "ok" and summary["incidents"]["created"] > 0
    assert ConnectorState.objects.get(connector__name="wifi").last_success_at is not None
    run("disable", "wifi")
    assert Connector.objects.get(name="wifi").enabled is False
    run("enable", "wifi")
    assert ConnectorState.objects.get(connector__name="wifi").next_run_at is None
    with pytest.raises(CommandError, match="no connector named"):
        run("sync", "nope")
    with pytest.raises(CommandError, match="credentials need"):
        run("add", "x", "--vendor", "7signal", "--url", server.url, "--credential", "client_id=a")
