"""The one connector contract: one vendor list, one file layout, vendor modules that read only
the vendor (no Django, no models), options declared once with their defaults and handed to the
vendor resolved, shared paginators with a page cap and loop detection, secrets redacted by
``settings.LOGGING``."""

import ast
import logging
from pathlib import Path

import pytest
from django.conf import settings

from fleetwatch import vendors
from fleetwatch.connectors import registry
from fleetwatch.connectors.models import Vendor
from fleetwatch.connectors.options import OptionsError, resolve_options
from fleetwatch.connectors.pagination import (
    OffsetPaginator,
    PageNumberPaginator,
    PaginationError,
    TokenPaginator,
)
from fleetwatch.connectors.redaction import LOGGERS, RedactSecrets, with_redaction
from fleetwatch.emulators import server

VENDOR_DIR = Path(registry.__file__).parent / "vendors"

# What a vendor module may not import: Django, any model module, and the hub's own layers
# (the engine hands it a HubView instead).
FORBIDDEN = (
    "django",
    "rest_framework",
    "fleetwatch.incidents",
    "fleetwatch.accounts",
    "fleetwatch.api",
    "fleetwatch.connectors.models",
    "fleetwatch.connectors.engine",
    "fleetwatch.connectors.hub",
    "fleetwatch.connectors.services",
    "fleetwatch.connectors.tasks",
    "fleetwatch.connectors.ratelimit",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


VENDOR_MODULES = sorted(VENDOR_DIR.rglob("*.py"))


@pytest.mark.parametrize("path", VENDOR_MODULES, ids=lambda p: str(p.relative_to(VENDOR_DIR)))
def test_vendor_modules_import_no_django_and_no_models(path):
    bad = {
        name
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN) or name.endswith(".models")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}: vendor code reads the hub via HubView"


def test_the_scan_catches_a_model_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("from fleetwatch.incidents.models import Incident\nimport django.db\n")
    assert {"fleetwatch.incidents.models", "django.db"} <= imported_modules(module)


@pytest.mark.parametrize("vendor", vendors.VENDORS, ids=lambda v: v.slug)
def test_every_vendor_has_the_same_layout(vendor):
    module = vendor.connector.partition(":")[0]
    package = VENDOR_DIR / module.rsplit(".", 1)[-1]
    assert package.is_dir(), f"{vendor.slug}: connectors/vendors/<vendor>/ is a package"
    assert {"__init__.py", "connector.py", "mapping.py"} <= {p.name for p in package.iterdir()}
    assert registry.connector_class(vendor.slug).vendor == vendor.slug


def test_one_vendor_list_feeds_the_registry_the_emulators_and_the_model():
    assert tuple(registry.VENDORS) == vendors.SLUGS
    assert tuple(server.VENDORS) == vendors.SLUGS
    assert tuple(Vendor.values) == vendors.SLUGS
    assert dict(Vendor.choices) == {v.slug: v.label for v in vendors.VENDORS}
    for vendor in vendors.VENDORS:
        assert server.vendor_class(vendor.slug).name == vendor.slug


def test_secret_redaction_is_configured_in_settings_on_every_vendor_logger():
    configured = settings.LOGGING["loggers"]
    for name in LOGGERS:
        assert "redact_secrets" in configured[name].get("filters", []), name
        assert any(isinstance(f, RedactSecrets) for f in logging.getLogger(name).filters), name
    assert {v.logger for v in vendors.VENDORS} <= set(LOGGERS)
    assert "fleetwatch.connectors.metaaccess" in LOGGERS


def test_a_vendor_logger_redacts_tokens(caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("fleetwatch.connectors.7signal").warning(
        "GET /x?access_token=Z3CR3T-T0KEN failed"
    )
    assert "Z3CR3T-T0KEN" not in caplog.text and "access_token=[redacted]" in caplog.text


# --- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", vendors.SLUGS)
def test_every_option_is_declared_once_with_its_default(vendor):
    cls = registry.connector_class(vendor)
    resolved = resolve_options(vendor, {})
    for name, spec in cls.option_specs.items():
        assert spec.default is not None, f"{vendor}.{name} declares no default"
        assert spec.check(spec.default) is None, f"{vendor}.{name}'s default fails its own check"
        assert resolved[name] == spec.default
    assert resolved["rate_limit"] == list(cls.rate_limit)
    assert resolved["timeout"] == 15.0 and resolved["failure_threshold"] == 3


def test_resolved_options_keep_what_the_connector_sets_and_refuse_bad_ones():
    resolved = resolve_options("metaaccess", {"overlap": 30, "rate_limit": [5, 60]})
    assert resolved["overlap"] == 30 and resolved["rate_limit"] == [5, 60]
    assert resolved["page_size"] == 50
    with pytest.raises(OptionsError) as caught:
        resolve_options("metaaccess", {"overlap": -1, "bogus": 1})
    assert set(caught.value.errors) == {"overlap", "bogus"}


@pytest.mark.django_db
def test_build_hands_the_vendor_its_cleaned_options():
    from fleetwatch.connectors.engine import build
    from fleetwatch.connectors.services import create_connector

    connector = create_connector(
        name="s7",
        vendor="7signal",
        base_url="http://127.0.0.1:9",
        credentials={"client_id": "a", "client_secret": "b"},
        poll_interval=60,
        options={"agents_per_page": 10, "timeout": 3},
    )
    vendor = build(connector, {})
    try:
        assert vendor.options == resolve_options("7signal", connector.options)
        assert vendor.options["agents_per_page"] == 10 and vendor.options["overlap_minutes"] == 60
        assert vendor.http.client.timeout.read == 3
        assert vendor.name == "s7" and vendor.log.name == "fleetwatch.connectors.7signal"
    finally:
        vendor.http.close()


# --- paginators -------------------------------------------------------------------------------


def test_page_numbers_run_until_has_more_says_no():
    paginator = PageNumberPaginator(stream="s", has_more=lambda got: got == 10)
    seen = []
    for page in paginator:
        seen.append(page)
        paginator.advance(10 if page < 3 else 4)
    assert seen == [1, 2, 3] and paginator.count == 3 and not paginator.capped


def test_a_listing_that_never_ends_hits_the_page_cap():
    paginator = PageNumberPaginator(stream="agents", max_pages=5)
    with pytest.raises(PaginationError, match="past page 5"):
        for _ in paginator:
            paginator.advance(None)
    assert paginator.count == 5


def test_the_cap_can_end_a_bounded_chunk_instead():
    paginator = OffsetPaginator(100, 20, stream="event_log", max_pages=3, cap="stop")
    offsets = []
    for offset in paginator:
        offsets.append(offset)
        paginator.advance(None)
    assert offsets == [100, 120, 140] and paginator.capped


def test_a_repeated_cursor_is_a_loop():
    answers = iter([{"next": "a"}, {"next": "b"}, {"next": "a"}])
    paginator = TokenPaginator(lambda page: page["next"], stream="devices")
    with pytest.raises(PaginationError, match="repeated or garbled"):
        for _ in paginator:
            paginator.advance(next(answers))


def test_a_null_cursor_ends_and_a_non_string_one_is_refused():
    paginator = TokenPaginator(lambda page: page["next"], stream="devices")
    tokens = []
    for token in paginator:
        tokens.append(token)
        paginator.advance({"next": None if token == "x" else "x"})
    assert tokens == [None, "x"]
    paginator = TokenPaginator(lambda page: page["next"], stream="devices")
    with pytest.raises(PaginationError):
        paginator.advance({"next": 42})


def test_the_same_page_twice_is_a_loop():
    paginator = PageNumberPaginator(stream="agents", fingerprint=lambda ids: ids)
    paginator.advance(("a", "b"))
    with pytest.raises(PaginationError, match="same items"):
        paginator.advance(("a", "b"))


def test_with_redaction_adds_the_filter_to_any_logging_config():
    config = {
        "version": 1,
        "filters": {"request_id": {"()": "x.RequestIdFilter"}},
        "loggers": {"httpx": {"level": "WARNING", "filters": ["request_id"]}},
    }
    redacted = with_redaction(config)
    assert set(redacted["filters"]) == {"request_id", "redact_secrets"}
    assert redacted["loggers"]["httpx"] == {
        "level": "WARNING",
        "filters": ["request_id", "redact_secrets"],
    }
    assert redacted["loggers"]["fleetwatch.connectors.sensaphone"] == {
        "filters": ["redact_secrets"]
    }
    assert "redact_secrets" not in config["filters"]  # the input is left as it was
