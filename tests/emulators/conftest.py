"""Emulator tests run each vendor emulator on a real loopback port; no database."""

import httpx
import pytest


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/emulators/" in str(item.path):
            item.add_marker(pytest.mark.emulator)


@pytest.fixture
def serve(emulator):
    """The emulator tests' name for the root ``emulator`` fixture."""
    return emulator


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as http:
        yield http
