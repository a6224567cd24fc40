"""``fleetwatch emulate 7signal|metaaccess|sensaphone|all``: serve the vendor emulators."""

import argparse
import asyncio
import json
from datetime import datetime

import uvicorn

from fleetwatch.emulators.app import build_app
from fleetwatch.emulators.clock import SimClock
from fleetwatch.emulators.fleet import generate_fleet
from fleetwatch.emulators.server import VENDORS, make_emulator

DEFAULT_PORTS = {"7signal": 8101, "metaaccess": 8102, "sensaphone": 8103}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fleetwatch emulate",
        description="Serve local emulators of the vendor APIs (see README, 'Emulators').",
    )
    parser.add_argument("vendor", choices=[*VENDORS, "all"])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port; with 'all' the first of three consecutive ports (default 8101, 8102, 8103)",
    )
    parser.add_argument("--seed", type=int, default=1, help="fleet and timeline seed (default 1)")
    parser.add_argument(
        "--devices", type=int, default=200, help="number of endpoints in the fleet (default 200)"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    parser.add_argument(
        "--epoch",
        type=datetime.fromisoformat,
        default=None,
        help="simulated start time, ISO 8601 with offset (default: now)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the base URLs and credentials as one JSON line"
    )
    args = parser.parse_args(argv)
    if args.devices < 1 or args.devices > 1_000_000:
        parser.error("--devices must be between 1 and 1000000")
    if args.speed <= 0:
        parser.error("--speed must be positive")
    if args.epoch is not None and args.epoch.tzinfo is None:
        parser.error("--epoch needs a UTC offset, e.g. 2026-11-22T08:00:00+00:00")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    fleet = generate_fleet(args.seed, args.devices)
    clock = SimClock(args.epoch, args.speed)
    names = list(VENDORS) if args.vendor == "all" else [args.vendor]
    servers, summary = [], {}
    for offset, name in enumerate(names):
        port = (args.port + offset) if args.port else DEFAULT_PORTS[name]
        emulator = make_emulator(name, fleet, clock, args.seed)
        config = uvicorn.Config(
            build_app(emulator), host=args.host, port=port, log_level="warning", lifespan="off"
        )
        servers.append(uvicorn.Server(config))
        host = f"[{args.host}]" if ":" in args.host else args.host
        summary[name] = {"url": f"http://{host}:{port}", "credentials": emulator.credentials()}
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"Emulated fleet: seed {args.seed}, {args.devices} devices, speed x{args.speed}")
        for name, info in summary.items():
            creds = ", ".join(f"{k}={v}" for k, v in info["credentials"].items())
            print(f"  {name:<11} {info['url']}   {creds}")
        print("Control API under /_emulator/ on each. Ctrl-C stops.", flush=True)
    try:
        asyncio.run(_serve(servers))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(server.serve() for server in servers))
