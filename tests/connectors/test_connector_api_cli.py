"""Managing connectors: the /api/v2/connectors/ API and the ``fleetwatch connector`` command."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fleetwatch.connectors.engine import run_poll
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
    # Deleting is test_hardening.py's; here only that it works.
    assert admin_api.delete(f"{URL}{data['pk']}/").status_code == 204
    assert not Connector.objects.filter(pk=data["pk"]).exists()


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


# --- options ----------------------------------------------------------------------------------

BAD_OPTIONS = [
    ({"rate_limit": [0, 1]}, "rate_limit"),
    ({"rate_limit": [5]}, "rate_limit"),
    ({"rate_limit": [5, 0]}, "rate_limit"),
    ({"rate_limit": "5/s"}, "rate_limit"),
    ({"retry": {"tries": 3}}, "retry"),
    ({"retry": {"attempts": 0}}, "retry"),
    ({"retry": {"base_delay": "fast"}}, "retry"),
    ({"retry": [1]}, "retry"),
    ({"timeout": -1}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"rate_limit_margin": 2}, "rate_limit_margin"),
    ({"failure_threshold": 0.5}, "failure_threshold"),
    ({"agents_per_page": 1000}, "agents_per_page"),
    ({"overlap_minutes": -5}, "overlap_minutes"),
    ({"page_size": 20}, "page_size"),  # a MetaAccess option, not a 7SIGNAL one
]


@pytest.mark.parametrize(("options", "name"), BAD_OPTIONS, ids=lambda v: str(v)[:40])
def test_bad_options_are_a_400_naming_the_option(admin_api, options, name):
    body = {
        "name": "wifi",
        "vendor": "7signal",
        "base_url": "http://127.0.0.1:9/",
        "credentials": CREDS,
        "options": options,
    }
    response = admin_api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["options"]
    assert list(errors) == [name] and errors[name], errors
    assert not Connector.objects.exists()


def test_bad_options_on_update_are_a_400_and_change_nothing(admin_api, make_connector, emulator):
    connector = make_connector(emulator("7signal", seed=1, devices=20), "wifi")
    before = connector.options
    response = admin_api.patch(
        f"{URL}{connector.pk}/",
        {"options": {"rate_limit": [0, 1], "retry": {"tries": 3}, "agents_every": 60}},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["options"]) == {"rate_limit", "retry"}
    connector.refresh_from_db()
    assert connector.options == before
    good = admin_api.patch(
        f"{URL}{connector.pk}/",
        {"options": {"rate_limit": [4, 1.0], "retry": {"attempts": 2}}},
        format="json",
    )
    assert good.status_code == 200 and good.json()["options"]["rate_limit"] == [4, 1.0]


def test_test_never_answers_500(admin_api, make_connector, emulator, vendor_proxy):
    server = emulator("7signal", seed=1, devices=20)
    proxy = vendor_proxy(server)
    connector = make_connector(server, "wifi", url=proxy.url)
    # Options stored before they were checked (an older version, a database edit): a 400
    # naming them, not the TypeError deep inside build().
    Connector.objects.filter(pk=connector.pk).update(
        options={"rate_limit": [0, 1], "retry": {"tries": 3}}
    )
    tested = admin_api.post(f"{URL}{connector.pk}/test/")
    assert tested.status_code == 400, tested.content
    assert set(tested.json()["options"]) == {"rate_limit", "retry"}
    # ... and a poll with them fails as a recorded failure, naming them.
    summary = run_poll(connector.pk).as_dict()
    assert summary["status"] == "failed" and "rate_limit" in summary["error"]
    # A vendor answer the module does not expect (valid JSON, wrong shape): a 502.
    Connector.objects.filter(pk=connector.pk).update(options={})
    proxy.rewrite = lambda method, path, status, body: (
        (200, b'{"agents": "none"}') if path == "/eyes" else None
    )
    tested = admin_api.post(f"{URL}{connector.pk}/test/")
    assert tested.status_code == 502, tested.content
    assert tested.json()["ok"] is False
    proxy.rewrite = None
    assert admin_api.post(f"{URL}{connector.pk}/test/").status_code == 200


def test_cli_names_bad_options(db, emulator):
    server = emulator("7signal", seed=2, devices=20)
    args = ["add", "wifi", "--vendor", "7signal", "--url", server.url]
    creds = ["--credential", "client_id=fleetwatch-demo", "--credential", "client_secret=x"]
    with pytest.raises(CommandError, match=r"options: rate_limit: Expected \[requests, seconds\]"):
        run(*args, *creds, "--option", "rate_limit=[0, 1]")
    with pytest.raises(CommandError, match="retry: 'tries' is not a retry setting"):
        run(*args, *creds, "--option", 'retry={"tries": 3}')
    with pytest.raises(CommandError, match="colour: Unknown option"):
        run(*args, *creds, "--option", "colour=red")
    assert not Connector.objects.exists()
    run(*args, *creds, "--option", "rate_limit=[4, 1]")
    Connector.objects.filter(name="wifi").update(options={"timeout": "slow"})
    with pytest.raises(CommandError, match=r"wifi: options: timeout: Expected a number\."):
        run("test", "wifi")
