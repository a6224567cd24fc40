"""Issue 10's connector hardening: DELETE deletes (keeping the source and its incidents),
vendor addresses are guarded at configuration and at connect time, vendor error texts are
summarised, and ``test/`` has a short total deadline."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fleetwatch.connectors import addresses
from fleetwatch.connectors.engine import run_poll, set_health_incident
from fleetwatch.connectors.models import Connector, ConnectorState, VendorDevice
from fleetwatch.incidents.models import Incident, SourceSystem

URL = "/api/v2/connectors/"
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret"}


@pytest.fixture
def admin_api(client_for, superuser):
    return client_for(superuser)


@pytest.fixture
def no_private(settings):
    settings.CONNECTOR_ALLOW_PRIVATE = False


def body(url: str, name: str = "wifi") -> dict:
    return {"name": name, "vendor": "7signal", "base_url": url, "credentials": CREDS}


# --- DELETE -----------------------------------------------------------------------------------


def test_delete_keeps_the_source_and_its_incidents(admin_api, api, emulator, make_connector):
    server = emulator("7signal", seed=1, devices=20)
    connector = make_connector(server, "wifi")
    assert run_poll(connector.pk).status == "ok"
    source_id = connector.source_id
    incidents = Incident.objects.filter(source=source_id).count()
    vendor_open = connector.open_incident_ids()
    assert incidents > 0 and VendorDevice.objects.filter(connector=connector).exists()
    set_health_incident(connector, "kept failing")
    assert api.delete(f"{URL}{connector.pk}/").status_code == 403  # staff only
    assert Connector.objects.filter(pk=connector.pk).exists()

    assert admin_api.delete(f"{URL}{connector.pk}/").status_code == 204
    assert not Connector.objects.filter(pk=connector.pk).exists()
    assert not ConnectorState.objects.filter(pk=connector.pk).exists()
    assert not VendorDevice.objects.filter(connector_id=connector.pk).exists()
    assert SourceSystem.objects.filter(pk=source_id).exists()
    # Every incident stays (the health one too), but nothing would end the health one now.
    assert Incident.objects.filter(source=source_id).count() == incidents + 1
    health = Incident.objects.get(source=source_id, source_incident_id__startswith="fleetwatch:")
    assert not health.open
    assert health.events.filter(type="END", description__contains="deleted").count() == 1
    assert (
        set(
            Incident.objects.open()
            .filter(source=source_id)
            .values_list("source_incident_id", flat=True)
        )
        == vendor_open
    )  # the vendor's incidents are left as they were
    assert admin_api.get(f"{URL}{connector.pk}/").status_code == 404
    # A queued poll of the deleted connector is skipped, not an error.
    assert run_poll(connector.pk).status == "skipped"
    # Added again under its old name, it carries on with its old source and incidents.
    again = admin_api.post(URL, body(server.url), format="json")
    assert again.status_code == 201, again.content
    assert again.json()["source"] == source_id


def test_delete_from_the_cli(make_connector, emulator):
    connector = make_connector(emulator("7signal", seed=1, devices=20), "wifi")
    out = StringIO()
    call_command("connector", "delete", "wifi", stdout=out)
    assert "wifi deleted" in out.getvalue()
    assert not Connector.objects.exists()
    assert SourceSystem.objects.filter(pk=connector.source_id).exists()


# --- vendor addresses -------------------------------------------------------------------------

REFUSED_ALWAYS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.10.1/",
    "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://0.0.0.0:8080/",
]


@pytest.mark.parametrize("url", REFUSED_ALWAYS)
def test_link_local_and_metadata_addresses_are_refused_even_when_private_ones_are_allowed(
    admin_api, url
):
    answer = admin_api.post(URL, body(url), format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["base_url"]
    assert not Connector.objects.exists()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5432/", "http://[::1]:8080/", "http://10.0.0.8/", "http://localhost/"]
)
def test_loopback_and_private_addresses_need_allow_private(admin_api, no_private, url):
    answer = admin_api.post(URL, body(url), format="json")
    assert answer.status_code == 400, answer.content
    assert "FLEETWATCH_CONNECTOR_ALLOW_PRIVATE" in answer.json()["base_url"][0]


def test_the_check_covers_update_admin_and_cli(admin_api, admin_client, make_connector, emulator):
    server = emulator("7signal", seed=1, devices=20)
    connector = make_connector(server, "wifi")
    metadata = "http://169.254.169.254/"
    patched = admin_api.patch(f"{URL}{connector.pk}/", {"base_url": metadata}, format="json")
    assert patched.status_code == 400 and "base_url" in patched.json()
    form = {"base_url": metadata, "poll_interval": "60", "enabled": "on", "options": "{}"}
    page = admin_client.post(f"/admin/connectors/connector/{connector.pk}/change/", form)
    assert page.status_code == 200 and b"metadata address" in page.content
    connector.refresh_from_db()
    assert connector.base_url == server.url
    args = ["add", "x", "--vendor", "7signal", "--url", metadata]
    creds = ["--credential", "client_id=a", "--credential", "client_secret=b"]
    with pytest.raises(CommandError, match=r"base_url: refused to connect to 169\.254\.169\.254"):
        call_command("connector", *args, *creds, stdout=StringIO())


def test_names_are_checked_at_connect_time_too(
    make_connector, emulator, control, monkeypatch, settings
):
    """DNS rebinding: a name that resolved somewhere harmless when the connector was
    configured, and somewhere forbidden when it connects, is refused — and the connection
    goes to the address that was checked, not to a second lookup's."""
    server = emulator("7signal", seed=1, devices=20)
    answers = {"vendor.example": "93.184.216.34"}
    monkeypatch.setattr(addresses, "resolve", lambda host, port: [answers[host]])
    port = server.url.rsplit(":", 1)[1]
    connector = make_connector(server, "wifi", url=f"http://vendor.example:{port}")
    answers["vendor.example"] = "127.0.0.1"  # the emulator: allowed (tests allow private)
    assert run_poll(connector.pk).status == "ok"
    ctl = control(server)
    requests = ctl.counters()["total"]

    answers["vendor.example"] = "169.254.169.254"
    summary = run_poll(connector.pk).as_dict()
    assert summary["status"] == "failed" and summary["requests"] == 1, summary
    assert "169.254.169.254 is a cloud metadata address" in summary["error"]
    assert summary["retries"] == 0  # refused, not retried

    settings.CONNECTOR_ALLOW_PRIVATE = False
    answers["vendor.example"] = "127.0.0.1"
    summary = run_poll(connector.pk).as_dict()
    assert summary["status"] == "failed" and "loopback address" in summary["error"], summary
    assert ctl.counters()["total"] == requests  # nothing reached the vendor


def test_a_loopback_vendor_is_refused_when_private_is_off(make_connector, emulator, settings):
    server = emulator("7signal", seed=1, devices=20)
    connector = make_connector(server, "wifi")
    settings.CONNECTOR_ALLOW_PRIVATE = False
    summary = run_poll(connector.pk).as_dict()
    assert summary["status"] == "failed"
    assert "127.0.0.1 is a loopback address" in summary["error"], summary


# --- error texts ------------------------------------------------------------------------------


def test_vendor_error_texts_are_summarised(admin_api, make_connector, emulator, vendor_proxy):
    server = emulator("7signal", seed=1, devices=20)
    proxy = vendor_proxy(server)
    connector = make_connector(server, "wifi", url=proxy.url)
    banner = b"FATAL: PostgreSQL 16.2 on x86_64, role postgres, pg_hba.conf line 3"
    proxy.rewrite = lambda method, path, status, content: (
        (404, banner) if path.startswith("/eyes") else None
    )
    summary = run_poll(connector.pk).as_dict()
    assert summary["status"] == "failed"
    assert summary["error"].startswith("404 Not Found from GET /eyes"), summary
    assert "PostgreSQL" not in summary["error"]
    health = admin_api.get(f"{URL}{connector.pk}/").json()["health"]
    assert "PostgreSQL" not in str(health) and health["last_error"].startswith("404 Not Found")
    tested = admin_api.post(f"{URL}{connector.pk}/test/")
    assert tested.status_code == 502 and tested.json()["kind"] == "vendor"
    assert "PostgreSQL" not in tested.content.decode()


# --- test/ deadline ---------------------------------------------------------------------------


def test_test_gives_up_at_its_deadline(admin_api, make_connector, emulator, control, settings):
    """A vendor that keeps failing: ``test/`` answers 504 (kind ``timeout``) once its deadline
    is spent, instead of waiting out a retry schedule that would take minutes."""
    settings.CONNECTOR_TEST_DEADLINE = 1.5
    server = emulator("7signal", seed=1, devices=20)
    connector = make_connector(
        server, "wifi", retry={"attempts": 100, "base_delay": 0.4, "max_delay": 0.4}
    )
    control(server).fault("http_500", count=100_000)
    tested = admin_api.post(f"{URL}{connector.pk}/test/")
    assert tested.status_code == 504, tested.content
    data = tested.json()
    assert data["ok"] is False and data["kind"] == "timeout"
    assert "within 1.5 s" in data["error"]
