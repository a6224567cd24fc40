"""Serving emulators: in the foreground (CLI) or on a background thread (tests, benchmarks)."""

import socket
import threading
import time

import uvicorn

from fleetwatch import vendors
from fleetwatch.emulators.app import build_app
from fleetwatch.emulators.base import VendorEmulator
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import Fleet, generate_fleet

#: slug → "module:Class" of its emulator, from the one vendor list (``fleetwatch.vendors``,
#: which imports no Django).
VENDORS = {v.slug: v.emulator for v in vendors.VENDORS}


def vendor_class(name: str) -> type[VendorEmulator]:
    cls = vendors.load(path := vendors.BY_SLUG[name].emulator)
    if not (isinstance(cls, type) and issubclass(cls, VendorEmulator)):
        raise TypeError(f"{path} is not a VendorEmulator")
    return cls


def make_emulator(name: str, fleet: Fleet, clock: SimClock, seed: int) -> VendorEmulator:
    return vendor_class(name)(fleet, clock, seed)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmulatorServer:
    """One vendor emulator served by uvicorn on a background thread.

    >>> with EmulatorServer("7signal", seed=1, devices=50) as server:
    ...     httpx.get(server.url + "/eyes")
    """

    def __init__(
        self,
        vendor: str,
        *,
        seed: int = 1,
        devices: int = 100,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        fleet: Fleet | None = None,
        clock: SimClock | None = None,
    ) -> None:
        self.fleet = fleet or generate_fleet(seed, devices)
        self.clock = clock or SimClock(speed=speed)
        self.emulator = make_emulator(vendor, self.fleet, self.clock, seed)
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            build_app(self.emulator),
            host=host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> "EmulatorServer":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"emulator did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
