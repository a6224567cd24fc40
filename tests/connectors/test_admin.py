"""The connector admin: add, change, replace credentials — never a 500, never a secret shown."""

import json

import pytest

from fleetwatch.connectors.models import Connector
from fleetwatch.connectors.services import create_connector

ADD = "/admin/connectors/connector/add/"
CREDS = {"client_id": "fleetwatch-demo", "client_secret": "demo-secret-123"}


def change_url(connector) -> str:
    return f"/admin/connectors/connector/{connector.pk}/change/"


def form(**values) -> dict:
    """A change-form POST: every editable field, as the browser sends it."""
    return {
        "base_url": "https://api-v2.7signal.com",
        "poll_interval": "60",
        "enabled": "on",
        "options": "{}",
        "new_credentials": "",
        **values,
    }


@pytest.fixture
def connector(db):
    return create_connector(
        name="wifi", vendor="7signal", base_url="https://api-v2.7signal.com", credentials=CREDS
    )


def test_the_add_form_creates_a_connector_with_its_credentials(admin_client):
    response = admin_client.post(
        ADD,
        form(
            name="campus",
            vendor="metaaccess",
            base_url="https://gears.opswat.com",
            options='{"overlap": 300}',
            new_credentials=json.dumps(CREDS),
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connector = Connector.objects.get(name="campus")
    assert connector.credentials == CREDS and connector.options == {"overlap": 300}
    assert connector.source.type_id == "metaaccess" and connector.source.name == "campus"


def test_the_change_form_shows_no_secret(admin_client, connector):
    page = admin_client.get(change_url(connector))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="new_credentials"' in html  # the field is there, and empty
    assert CREDS["client_secret"] not in html
    assert connector.credentials_encrypted not in html


def test_replacing_the_credentials_of_an_existing_connector(admin_client, connector):
    new = {**CREDS, "client_secret": "rotated-secret-456"}
    response = admin_client.post(change_url(connector), form(new_credentials=json.dumps(new)))
    assert response.status_code == 302, response.content.decode()[:2000]
    connector.refresh_from_db()
    assert connector.credentials == new
    # Left empty, the stored credentials stay as they are.
    response = admin_client.post(change_url(connector), form(poll_interval="120"))
    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.credentials == new and connector.poll_interval == 120
    assert "rotated-secret-456" not in admin_client.get(change_url(connector)).content.decode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "Not valid JSON."),
        ('{"client_id": "x"}', "missing client_secret"),
        (json.dumps({**CREDS, "extra": "1"}), "Unknown credential field(s): extra."),
        ("[1, 2]", "Expected a JSON object."),
    ],
)
def test_bad_credentials_are_a_form_error(admin_client, connector, raw, message):
    response = admin_client.post(change_url(connector), form(new_credentials=raw))
    assert response.status_code == 200  # the form again, with the error; not a 500
    assert message in response.content.decode()
    assert response.context["adminform"].form.errors["new_credentials"]
    connector.refresh_from_db()
    assert connector.credentials == CREDS


def test_bad_credentials_on_the_add_form(admin_client):
    response = admin_client.post(
        ADD, form(name="campus", vendor="metaaccess", new_credentials='{"client_id": "x"}')
    )
    assert response.status_code == 200
    assert "missing client_secret" in response.content.decode()
    response = admin_client.post(ADD, form(name="campus", vendor="metaaccess"))
    assert response.status_code == 200
    assert "New connectors need credentials." in response.content.decode()
    assert not Connector.objects.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('{"rate_limit": [0, 1]}', "rate_limit: Expected [requests, seconds]"),
        ('{"retry": {"tries": 3}}', "retry: &#x27;tries&#x27; is not a retry setting"),
        ('{"agents_per_page": 1000}', "agents_per_page: Must be at most 250."),
        ('{"colour": "red"}', "colour: Unknown option"),
    ],
)
def test_bad_options_are_a_form_error(admin_client, connector, options, message):
    response = admin_client.post(change_url(connector), form(options=options))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["adminform"].form.errors["options"]
    connector.refresh_from_db()
    assert connector.options == {}
