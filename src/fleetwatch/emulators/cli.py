"""``fleetwatch emulate 7signal|metaaccess|sensaphone|all``: serve the vendor emulators.

The listening sockets are bound before anything is printed, so the printed URLs carry the
real ports (``--port 0`` lets the OS choose a free one per emulator) and a port in use is a
clear error instead of a half-started set of emulators. SIGINT and SIGTERM stop every
emulator and the command exits 0. See docs/emulators/cli.md.
"""

import argparse
import asyncio
import contextlib
import json
import math
import signal
import socket
import sys
from collections.abc import Iterator
from datetime import datetime

import uvicorn

from fleetwatch.emulators.app import build_app
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import generate_fleet
from fleetwatch.emulators.server import VENDORS, make_emulator

DEFAULT_PORTS = {"7signal": 8101, "metaaccess": 8102, "sensaphone": 8103}
MAX_SPEED = 100_000.0  # simulated seconds per real second (about 28 hours a second)
# Emulators seed history before the epoch and run after it, so the simulated start must leave
# room on both sides: of what a datetime holds, and of 2000-2099, the years the Sensaphone
# timestamp encoding holds.
EPOCH_YEARS = (1971, 9998)
SENSAPHONE_EPOCH_YEARS = (2001, 2098)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"{value} is not a TCP port: use 1-65535, or 0 for a free port chosen by the OS"
        )
    return value


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SPEED):
        raise argparse.ArgumentTypeError(f"must be greater than 0 and at most {MAX_SPEED:g}")
    return value


def _epoch(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date and time: {text!r}") from None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fleetwatch emulate",
        description="Serve local emulators of the vendor APIs (see docs/emulators/cli.md).",
    )
    parser.add_argument("vendor", choices=[*VENDORS, "all"])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=_port,
        default=None,
        help="port; with 'all' the first of three consecutive ports (default 8101, 8102, "
        "8103); 0 lets the OS choose a free port for each emulator (the URLs printed say which)",
    )
    parser.add_argument("--seed", type=int, default=1, help="fleet and timeline seed (default 1)")
    parser.add_argument(
        "--devices", type=int, default=200, help="number of endpoints in the fleet (default 200)"
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help=f"simulated seconds per real second (default 1, at most {MAX_SPEED:g})",
    )
    parser.add_argument(
        "--epoch",
        type=_epoch,
        default=None,
        help="simulated start time, ISO 8601 with offset (default: now)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the base URLs and credentials as one JSON line"
    )
    args = parser.parse_args(argv)
    if args.devices < 1 or args.devices > 1_000_000:
        parser.error("--devices must be between 1 and 1000000")
    if args.epoch is not None and args.epoch.tzinfo is None:
        parser.error("--epoch needs a UTC offset, e.g. 2026-11-22T08:00:00+00:00")
    years = SENSAPHONE_EPOCH_YEARS if args.vendor in ("sensaphone", "all") else EPOCH_YEARS
    if args.epoch is not None and not years[0] <= args.epoch.year <= years[1]:
        parser.error(f"--epoch must be in the years {years[0]}-{years[1]} for {args.vendor}")
    count = len(VENDORS) if args.vendor == "all" else 1
    if args.port and args.port + count - 1 > 65535:
        parser.error(f"--port {args.port} leaves no room for {count} consecutive ports")
    return args


def ports_for(names: list[str], first: int | None) -> dict[str, int]:
    """Each emulator's port: the defaults, ``first`` and the ports after it, or 0 for each."""
    if first is None:
        return {name: DEFAULT_PORTS[name] for name in names}
    if first == 0:
        return dict.fromkeys(names, 0)
    return {name: first + offset for offset, name in enumerate(names)}


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 binds a free port the OS chooses."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :func:`_serve` (uvicorn's own handlers,
    installed by each of several servers in turn, would chain and end in a re-raised SIGTERM
    that kills the process instead of a clean exit)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # SIGTERM while the fleet is being built (seconds for a large one) stops as cleanly as
    # Ctrl-C; once serving, _serve's handlers take over
    signal.signal(signal.SIGTERM, _interrupted)
    names = list(VENDORS) if args.vendor == "all" else [args.vendor]
    sockets: dict[str, socket.socket] = {}
    try:
        for name, port in ports_for(names, args.port).items():
            try:
                sockets[name] = listen(args.host, port)
            except OSError as exc:
                print(
                    f"fleetwatch emulate: cannot listen on {args.host}:{port} for {name}: {exc}",
                    file=sys.stderr,
                )
                return 1
        fleet = generate_fleet(args.seed, args.devices)
        clock = SimClock(args.epoch, args.speed)
        servers, summary = [], {}
        host = f"[{args.host}]" if ":" in args.host else args.host
        for name, sock in sockets.items():
            emulator = make_emulator(name, fleet, clock, args.seed)
            config = uvicorn.Config(
                build_app(emulator),
                log_level="warning",
                access_log=False,
                lifespan="off",
            )
            servers.append((_Server(config), sock))
            port = sock.getsockname()[1]
            summary[name] = {"url": f"http://{host}:{port}", "credentials": emulator.credentials()}
        if args.json:
            print(json.dumps(summary), flush=True)
        else:
            print(
                f"Emulated fleet: seed {args.seed}, {args.devices} devices, speed x{args.speed:g}"
            )
            for name, info in summary.items():
                creds = ", ".join(f"{k}={v}" for k, v in info["credentials"].items())
                print(f"  {name:<11} {info['url']}   {creds}")
            print("Control API under /_emulator/ on each. Ctrl-C stops.", flush=True)
        asyncio.run(_serve(servers))
    except KeyboardInterrupt:  # a signal before the handlers were installed
        pass
    finally:
        for sock in sockets.values():
            sock.close()
    return 0


async def _serve(servers: list[tuple[uvicorn.Server, socket.socket]]) -> None:
    """Serve until SIGINT or SIGTERM; a second signal stops without waiting for connections."""
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
