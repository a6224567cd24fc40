"""Fixtures shared by every test package: users, source systems, token-authenticated clients."""

import os
import subprocess

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from fleetwatch.emulators.server import EmulatorServer

# `make test-fast` selects this profile (`--hypothesis-profile=fast`): a quarter of the examples,
# also for tests with their own budget (`hypothesis_budget.examples`), and no timing checks (the
# edit loop shares its machine). `make test`: full budgets.
hypothesis_settings.register_profile(
    "fast", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture
def make_user(db, django_user_model):
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, password: str = "secret-pass-123", **extra):
        username = username or f"user{next(counter)}"
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def client_for():
    """An APIClient sending ``Authorization: Token <key>`` for the given user."""

    def make(user) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        api.token = token.key
        return api

    return make


@pytest.fixture
def enduser(make_user):
    return make_user("alice", email="alice@example.org", first_name="Alice")


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_superuser=True, is_staff=True)


@pytest.fixture
def api(client_for, enduser):
    return client_for(enduser)


@pytest.fixture
def make_source(db, make_user):
    from fleetwatch.incidents.models import SourceSystem, SourceSystemType

    def make(name: str = "nav1", type: str = "nav", base_url: str = "") -> SourceSystem:
        source_type, _ = SourceSystemType.objects.get_or_create(name=type)
        user = make_user(f"{name}-{type}", password=None)
        return SourceSystem.objects.create(
            name=name, type=source_type, user=user, base_url=base_url
        )

    return make


@pytest.fixture
def source(make_source):
    return make_source("nav1", "nav", "https://nav.example.org")


@pytest.fixture
def source_api(client_for, source):
    return client_for(source.user)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """PBKDF2's deliberate slowness buys nothing in tests; the hasher choice is not under test."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def static_files_found_once():
    """A server builds its middleware once per process, but every test client builds it anew,
    and whitenoise (``WHITENOISE_USE_FINDERS``) then lists, stats and describes every static
    file of every app: about a third of a simple API test's CPU. Here the first scan of a
    process serves every later client, as the first would in a server."""
    from whitenoise.middleware import WhiteNoiseMiddleware

    scan = WhiteNoiseMiddleware.add_files_from_finders
    found: dict[str, dict] = {}

    def add_files_from_finders(self) -> None:
        if self.static_prefix not in found:
            before = dict(self.files)
            scan(self)
            found[self.static_prefix] = {
                url: file for url, file in self.files.items() if before.get(url) is not file
            }
        self.files.update(found[self.static_prefix])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders
    yield
    WhiteNoiseMiddleware.add_files_from_finders = scan


@pytest.fixture(autouse=True, scope="session")
def one_tls_context_per_process():
    """Every httpx client and transport (each poll's, each control client's) loads the CA bundle
    into a TLS context of its own: a tenth of a connector test's CPU, for TLS no test uses (the
    emulators speak plain HTTP on 127.0.0.1). Here the default context is built once and
    shared, as an ``ssl.SSLContext`` may be; any other ``verify`` or ``cert`` builds its own."""
    import httpx._transports.default as transports

    create = transports.create_ssl_context
    built: dict[bool, object] = {}

    def create_ssl_context(verify=True, cert=None, trust_env: bool = True):
        if verify is not True or cert is not None:
            return create(verify=verify, cert=cert, trust_env=trust_env)
        if trust_env not in built:
            built[trust_env] = create(verify=verify, cert=cert, trust_env=trust_env)
        return built[trust_env]

    transports.create_ssl_context = create_ssl_context
    yield
    transports.create_ssl_context = create


@pytest.fixture(autouse=True, scope="session")
def connectors_may_reach_loopback():
    """The emulators serve on 127.0.0.1, which connectors refuse unless allowed (as the demo
    allows it): allowed here and in every ``fleetwatch`` subprocess a test starts. Tests of the
    refusal turn it off with the ``settings`` fixture."""
    from django.conf import settings

    os.environ["FLEETWATCH_CONNECTOR_ALLOW_PRIVATE"] = "true"
    settings.CONNECTOR_ALLOW_PRIVATE = True


@pytest.fixture
def emulator():
    """``server = emulator("7signal", seed=3, devices=50)``: a vendor emulator on a real
    127.0.0.1 port, stopped when the test ends."""
    started: list[EmulatorServer] = []

    def start(vendor: str, **kwargs) -> EmulatorServer:
        server = EmulatorServer(vendor, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True, scope="session")
def metrics_files_of_this_run():
    """The test run's prometheus value files (one per metric kind and process) go when it
    ends; a server keeps its own until it restarts, but a test run has no successor."""
    yield
    import os
    from pathlib import Path

    for path in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob(f"*_{os.getpid()}.db"):
        path.unlink(missing_ok=True)


def pytest_collection_modifyitems(config, items):
    """Tests that start their own processes and database (``standalone``) are ``slow`` too."""
    for item in items:
        if item.get_closest_marker("standalone"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def subprocesses_only_in_slow_tests(request, monkeypatch):
    """``make test-fast`` leaves out the ``slow`` tests and promises no subprocesses: a test
    that starts one must say so with ``@pytest.mark.slow``, or it fails here and tells you."""
    if request.node.get_closest_marker("slow"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError(
            "this test starts a subprocess: mark it @pytest.mark.slow (see README, make test-fast)"
        )

    monkeypatch.setattr(subprocess, "Popen", refuse)


@pytest.fixture(autouse=True)
def fresh_notification_snapshot(monkeypatch):
    """Each test starts with the notification outbox's per-process profile snapshot empty (as
    its empty database is): a snapshot cached by an earlier test would name profiles its
    rollback removed. Creating profiles in a test clears it (model signals). Within a test the
    snapshot does not expire: on a slow machine a 2 s expiry would add a reload query to
    whatever a test happens to be counting."""
    from django.conf import settings

    from fleetwatch.notifications import outbox

    monkeypatch.setattr(settings, "NOTIFICATION_PROFILE_CACHE_SECONDS", 3600)
    outbox.prime_empty()
    yield
    outbox.clear_cache()
