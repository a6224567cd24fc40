"""Emulator tests run each vendor emulator on a real loopback port; no database."""

import httpx
import pytest

from fleetwatch.emulators.server import EmulatorServer


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/emulators/" in str(item.path):
            item.add_marker(pytest.mark.emulator)


@pytest.fixture
def serve():
    """Start an emulator: ``server = serve("7signal", seed=3, devices=50)``; stopped after."""
    started: list[EmulatorServer] = []

    def start(vendor: str, **kwargs) -> EmulatorServer:
        server = EmulatorServer(vendor, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as http:
        yield http
