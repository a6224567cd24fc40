"""The senders against real receivers: SMTP (aiosmtpd), SMS as e-mail, signed webhooks."""

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from fleetwatch.incidents.models import Event
from fleetwatch.notifications.emailurl import LOG_BACKEND, SMTP_BACKEND, parse_email_url
from fleetwatch.notifications.media import get_medium
from fleetwatch.notifications.render import render_message
from fleetwatch.notifications.senders import SendError, send_webhook


def message(**incident_changes) -> dict:
    incident = {
        "pk": 42,
        "url": "http://hub.test/admin/incidents/incident/42/change/",
        "start_time": "2026-11-20T10:00:00+00:00",
        "end_time": None,
        "stateful": True,
        "open": True,
        "acked": False,
        "level": 1,
        "level_name": "Critical",
        "description": "router r1 down",
        "source": {"name": "nav1", "type": "nav"},
        "source_incident_id": "SID-1",
        "details_url": "",
        "ticket_url": "",
        "tags": ["host=r1"],
        **incident_changes,
    }
    event = Event(
        pk=7,
        type=Event.Type.INCIDENT_START,
        timestamp=datetime(2026, 11, 20, 10, tzinfo=UTC),
        description="",
    )
    return {**render_message(event, incident, "nav1-nav"), "delivery_id": 99}


# --- EMAIL_URL --------------------------------------------------------------------------------


def test_email_url_unset_logs_the_mail():
    assert parse_email_url("")["BACKEND"] == LOG_BACKEND


def test_email_url_starttls_with_credentials():
    parsed = parse_email_url("smtp://us%40er:p%3Ass@mail.example.org:587?starttls=1")
    assert parsed["BACKEND"] == SMTP_BACKEND
    options = parsed["OPTIONS"]
    assert (options["host"], options["port"]) == ("mail.example.org", 587)
    assert (options["username"], options["password"]) == ("us@er", "p:ss")
    assert options["use_tls"] and not options["use_ssl"]


def test_email_url_smtps_is_implicit_tls_on_465():
    options = parse_email_url("smtps://u:p@mail.example.org")["OPTIONS"]
    assert options["port"] == 465 and options["use_ssl"] and not options["use_tls"]


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://mail.example.org", "scheme"),
        ("smtp://", "host"),
        ("smtp://h:99999", "port"),
        ("smtp://h?tls=1", "unknown option"),
        ("smtps://h?starttls=1", "implicit TLS"),
    ],
)
def test_email_url_mistakes_are_named(url, words):
    with pytest.raises(ValueError, match=words):
        parse_email_url(url)


# --- e-mail and SMS through a real SMTP server ------------------------------------------------


def test_email_arrives_with_text_and_html_parts(smtp_sink):
    msgid = get_medium("email").send(message(), {"email_address": "ops@example.org"})
    assert len(smtp_sink.messages) == 1
    mail = smtp_sink.messages[0]
    assert mail["Message-ID"] == msgid
    assert mail["From"] == "hub@fleetwatch.test" and mail["To"] == "ops@example.org"
    assert "Incident start" in mail["Subject"] and "router r1 down" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "http://hub.test/admin/incidents/incident/42/change/" in text
    assert 'href="http://hub.test/admin/incidents/incident/42/change/"' in html
    assert "host=r1" in text


def test_sms_is_a_mail_to_the_gateway_with_the_number_as_subject(smtp_sink):
    get_medium("sms").send(message(), {"phone_number": "+4799988877"})
    (mail,) = smtp_sink.to("sms@gateway.test")
    assert mail["Subject"] == "sms +4799988877"
    body = mail.get_content()
    assert body.startswith("Incident start #42 L1: router r1 down")
    assert len(body.strip()) <= 160


def test_sms_without_gateway_fails(settings):
    settings.SMS_GATEWAY_ADDRESS = ""
    with pytest.raises(SendError, match="FLEETWATCH_SMS_GATEWAY_ADDRESS"):
        get_medium("sms").send(message(), {"phone_number": "+4799988877"})


# --- webhooks against a real HTTP receiver ---------------------------------------------------


def test_webhook_posts_signed_json(webhook_receiver):
    provider_id = get_medium("webhook").send(
        message(), {"url": webhook_receiver.url, "secret": "s3cret", "format": "generic"}
    )
    (request,) = webhook_receiver.requests
    assert provider_id == "rcv-1"
    expected = "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Fleetwatch-Signature"] == expected
    assert request.headers["X-Fleetwatch-Delivery"] == "99"
    assert request.headers["X-Fleetwatch-Timestamp"].isdigit()
    body = request.json()
    assert body["event"]["type"] == "STA" and body["incident"]["pk"] == 42
    assert body["delivery_id"] == 99
    assert "metadata" not in body["incident"]


def test_webhook_without_secret_is_unsigned(webhook_receiver):
    send_webhook(message(), {"url": webhook_receiver.url})
    assert "X-Fleetwatch-Signature" not in webhook_receiver.requests[0].headers


def test_webhook_slack_and_teams_formats(webhook_receiver):
    send_webhook(message(), {"url": webhook_receiver.url, "format": "slack"})
    send_webhook(message(), {"url": webhook_receiver.url, "format": "teams"})
    slack, teams = (r.json() for r in webhook_receiver.requests)
    assert "router r1 down" in slack["text"] and "|Open incident #42>" in slack["text"]
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"].endswith("/incident/42/change/")


def test_webhook_non_2xx_is_an_error(webhook_receiver):
    webhook_receiver.statuses = [500]
    with pytest.raises(SendError, match="HTTP 500"):
        send_webhook(message(), {"url": webhook_receiver.url})


def test_webhook_to_loopback_needs_the_allow_setting(webhook_receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(SendError, match="FLEETWATCH_WEBHOOK_ALLOW_PRIVATE"):
        send_webhook(message(), {"url": webhook_receiver.url})
    assert webhook_receiver.requests == []


def test_webhook_to_metadata_address_is_always_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with pytest.raises(SendError, match="metadata"):
        send_webhook(message(), {"url": "http://169.254.169.254/latest/"})


def test_without_email_url_the_mail_goes_to_the_log(settings, caplog):
    settings.MAILERS = {"default": parse_email_url("")}
    with caplog.at_level("INFO", logger="fleetwatch.notifications.mail"):
        get_medium("email").send(message(), {"email_address": "ops@example.org"})
    assert "ops@example.org" in caplog.text and "router r1 down" in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, allow, words",
    [
        ("http://169.254.169.254/latest/", True, "metadata"),
        ("http://[fe80::1]/hook", True, "link-local"),
        ("http://127.0.0.1:9/hook", False, "FLEETWATCH_WEBHOOK_ALLOW_PRIVATE"),
        ("http://10.1.2.3/hook", False, "private"),
    ],
)
def test_a_forbidden_webhook_address_is_a_400_naming_url(api, settings, url, allow, words):
    settings.WEBHOOK_ALLOW_PRIVATE = allow
    body = {"media": "webhook", "label": "w", "settings": {"url": url}}
    response = api.post("/api/v2/notificationprofiles/destinations/", body, format="json")
    assert response.status_code == 400
    assert words in str(response.json()["url"])


@pytest.mark.django_db
def test_a_loopback_webhook_is_accepted_when_allowed(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    body = {"media": "webhook", "label": "w", "settings": {"url": "http://127.0.0.1:9/hook"}}
    response = api.post("/api/v2/notificationprofiles/destinations/", body, format="json")
    assert response.status_code == 201, response.content
