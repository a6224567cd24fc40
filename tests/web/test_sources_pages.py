"""Sources and connectors pages over HTTP: list with last seen and health, add/edit with
credentials written once and never shown, enable/disable, test against an emulator, sync."""

import pytest
from django.test import Client

from fleetwatch.connectors.models import Connector, ConnectorState

SECRET = "demo-secret"


@pytest.fixture
def staff_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def add(client, server, **extra):
    form = {
        "name": "wifi",
        "vendor": "7signal",
        "base_url": server.url,
        "poll_interval": "60",
        "enabled": "on",
        "cred_client_id": "fleetwatch-demo",
        "cred_client_secret": SECRET,
    }
    form.update(extra)
    return client.post("/connectors/add/", form)


def test_sources_list_shows_last_seen(enduser, source):
    client = Client()
    client.force_login(enduser)
    page = client.get("/sources/").content.decode()
    assert "nav1" in page and "never" in page
    assert "Connectors" not in page  # staff only, as the API


def test_add_test_disable_sync_edit(staff_client, emulator):
    server = emulator("7signal", seed=1, devices=5)
    response = add(staff_client, server)
    assert response.status_code == 302, response.content.decode()
    connector = Connector.objects.get(name="wifi")
    assert connector.credentials == {"client_id": "fleetwatch-demo", "client_secret": SECRET}
    page = staff_client.get("/sources/").content.decode()
    assert "wifi" in page and "Requests used" in page and SECRET not in page
    assert SECRET not in staff_client.get(f"/connectors/{connector.pk}/").content.decode()

    page = staff_client.post(f"/connectors/{connector.pk}/test/", follow=True).content.decode()
    assert "Test of wifi passed" in page

    staff_client.post(f"/connectors/{connector.pk}/disable/")
    assert not Connector.objects.get(pk=connector.pk).enabled
    staff_client.post(f"/connectors/{connector.pk}/enable/")
    assert Connector.objects.get(pk=connector.pk).enabled

    ConnectorState.objects.filter(connector=connector).update(next_run_at="2099-01-01T00:00Z")
    staff_client.post(f"/connectors/{connector.pk}/sync/")
    assert ConnectorState.objects.get(connector=connector).next_run_at is None

    response = staff_client.post(
        f"/connectors/{connector.pk}/",
        {"base_url": server.url, "poll_interval": "120", "enabled": "on"},
    )
    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.poll_interval == 120 and connector.credentials["client_secret"] == SECRET


def test_add_refusals_name_the_field(staff_client, emulator):
    server = emulator("7signal", seed=1, devices=5)
    response = add(staff_client, server, cred_client_secret="", name="Bad Name")
    assert response.status_code == 400
    page = response.content.decode()
    assert "credentials" in page and "name" in page
    assert not Connector.objects.exists()


def test_failed_test_is_a_message(staff_client, emulator):
    server = emulator("7signal", seed=1, devices=5)
    add(staff_client, server, cred_client_secret="wrong")
    connector = Connector.objects.get()
    page = staff_client.post(f"/connectors/{connector.pk}/test/", follow=True).content.decode()
    assert (
        "Test of wifi failed" in page and "wrong" not in page.split("Test of wifi failed")[1][:200]
    )


def test_connectors_are_staff_only(enduser):
    client = Client()
    client.force_login(enduser)
    assert client.get("/connectors/add/").status_code == 302
    assert client.post("/connectors/1/sync/").status_code == 302


def test_the_connector_lists_cost_the_same_queries_for_one_or_many(
    staff_client, client_for, superuser, settings
):
    """The sources page and ``GET /api/v2/connectors/`` read every connector's health with
    the list (no query per connector), and reading health writes no state row."""
    from fleetwatch.connectors.services import create_connector

    settings.CONNECTOR_ALLOW_PRIVATE = True
    admin_api = client_for(superuser)

    def make(n: int) -> None:
        create_connector(
            name=f"wifi-{n}",
            vendor="7signal",
            base_url="http://127.0.0.1:9/",
            credentials={"client_id": "id", "client_secret": SECRET},
            poll_interval=60,
            options={},
        )

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def counts() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as page:
            assert staff_client.get("/sources/").status_code == 200
        with CaptureQueriesContext(connection) as listing:
            assert admin_api.get("/api/v2/connectors/").status_code == 200
        return len(page), len(listing)

    make(1)
    ConnectorState.objects.all().delete()  # a connector that never ran
    one = counts()
    assert not ConnectorState.objects.exists()
    for n in range(2, 6):
        make(n)
    assert counts() == one
    assert Connector.objects.count() == 5
