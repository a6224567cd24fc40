"""The v2 OpenAPI schema matches the API: schemathesis, in process, over every operation.

Hypothesis generates requests from the schema (a bounded number per operation, for an admin
and for a source token; path parameters both generated and pointing at stored objects). Every
answer must be no server error and must match the response schema of its status code. That
sweep runs end to end over the whole schema (about a minute of CPU): it is marked ``slow``, run
by ``make test`` and left out of ``make test-fast``.
"""

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from route_helpers import objects
from schemathesis.checks import not_a_server_error, response_schema_conformance

__all__ = ["objects"]  # the fixture, used by name

#: Examples per operation, per user and per kind of path parameters: < 60 s in all.
EXAMPLES = 4
#: ``connectors/{id}/test/`` calls the vendor over the network; not an API answer to check.
SKIPPED = {("POST", "/api/v2/connectors/{id}/test/")}


def path_values(path: str, objects: dict) -> dict:
    """Stored objects for the operation's path parameters (the rest are generated)."""
    values = {}
    if "{id}" in path:
        for marker, key in (
            ("/notificationprofiles/timeslots/", "timeslot"),
            ("/notificationprofiles/filters/", "filter"),
            ("/notificationprofiles/destinations/", "destination"),
            ("/notificationprofiles/", "profile"),
            ("/plannedmaintenance/", "maintenance"),
            ("/connectors/", "connector"),
            ("/sources/", "source"),
            ("/auth/users/", "user"),
        ):
            if marker in path:
                values["id"] = objects[key]
                break
        else:
            values["id"] = objects["incident"]
    for name, key in (("ack_pk", "ack_pk"), ("event_pk", "event_pk"), ("tag", "tag")):
        if f"{{{name}}}" in path:
            values[name] = objects[key]
    if "{name}" in path:
        values["name"] = objects["name"]
    if "{slug}" in path:
        values["slug"] = objects["slug"]
    return values


def test_the_schema_generates_without_errors(client_for, superuser):
    response = client_for(superuser).get("/api/v2/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v2/incidents/open+unacked/" in paths
    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(ids) == len(set(ids))


@contextmanager
def connection_kept():
    """As Django's test client: the WSGI handler would close the test's database connection
    (and its transaction) at the end of every request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def exercise(operation, user, fixed: dict, failures: list, examples: int = EXAMPLES) -> int:
    """Run ``examples`` generated requests of ``operation`` as ``user``; return the count."""
    calls = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(path_parameters=fixed or None))
    def run(case):
        nonlocal calls
        token, _ = Token.objects.get_or_create(user=user)  # a logout may have dropped it
        response = case.call(headers={"Authorization": f"Token {token.key}"})
        calls += 1
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except (Exception, BaseExceptionGroup) as exc:  # collect every failure, then report
            failures.append(
                (
                    user.username,
                    case.method,
                    case.formatted_path,
                    response.status_code,
                    str(exc)[:700],
                )
            )

    run()
    return calls


@pytest.mark.slow  # every operation of the schema, end to end through WSGI: `make test` only
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(objects, superuser, source):
    failures: list[tuple] = []
    with connection_kept():
        app = get_wsgi_application()
        schema = schemathesis.openapi.from_wsgi("/api/v2/schema/?format=json", app)
        calls = run_all(schema, objects, (superuser, source.user), failures)
    assert calls > 200
    if failures:
        import json
        import os

        if os.environ.get("ST_DUMP"):
            json.dump(failures, open(os.environ["ST_DUMP"], "w"), indent=1)
    assert not failures, "\n\n".join(map(str, failures[:12])) + f"\n({len(failures)} in all)"


def run_all(schema, objects: dict, users: tuple, failures: list) -> int:
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        for user in users:
            calls += exercise(operation, user, path_values(operation.path, objects), failures)
            if "{" in operation.path:  # and with generated path parameters
                calls += exercise(operation, user, {}, failures)
    return calls


def test_swagger_ui_loads_its_assets_from_the_hub(client, client_for, superuser):
    """It loaded them from a CDN and was a blank page offline."""
    api = client_for(superuser)
    page = api.get("/api/v2/schema/swagger-ui/").content.decode()
    assert "cdn.jsdelivr" not in page and "unpkg" not in page
    assets = [src for src in page.split('"') if src.startswith("/static/") and src.endswith(".js")]
    assert assets, page[:500]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset


#: The notification and account operations, run for an end user with their own objects.
END_USER_PATHS = ("/notificationprofiles/", "/plannedmaintenance/", "/auth/", "/token-auth/")
END_USER_EXAMPLES = 12


@pytest.mark.slow  # end to end through WSGI over two parts of the schema: `make test` only
def test_schemathesis_as_an_end_user_over_notifications_and_accounts(enduser, superuser):
    """An end user's token (no staff rights) on the operations an end user lives in: their
    own objects as path parameters, and generated ones (another user's, or none)."""
    from route_helpers import notification_objects

    own = {**notification_objects(enduser), "user": enduser.pk}
    failures: list[tuple] = []
    calls = 0
    with connection_kept():
        app = get_wsgi_application()
        schema = schemathesis.openapi.from_wsgi("/api/v2/schema/?format=json", app)
        for result in schema.get_all_operations():
            operation = result.ok()
            if not any(marker in operation.path for marker in END_USER_PATHS):
                continue
            for fixed in (path_values(operation.path, own), {}):
                calls += exercise(operation, enduser, fixed, failures, END_USER_EXAMPLES)
    assert calls > 100
    assert not failures, "\n\n".join(map(str, failures[:12])) + f"\n({len(failures)} in all)"
