"""A deterministic, linked fleet: one campus whose endpoints the vendor emulators share.

Laptops that run both a 7SIGNAL and a MetaAccess agent mostly carry the same hostname and MAC
in both emulators, but not always, as in a real estate (``add_quirks``): some laptops have a
second, wired MAC that only MetaAccess reports; some were renamed and one vendor still shows
the old name; some were re-imaged, and the old agent records linger beside the new ones with
the same MAC. Every record names its physical device (``physical``), which
``GET /_emulator/fleet`` reveals, so an inventory join can be checked against the truth.
Same seed ⇒ the same fleet, byte for byte.
"""

import random
import uuid
from dataclasses import dataclass, field, replace

ORGANIZATION = "fleetwatch-demo"
CAMPUS = "Riverside Campus"
BUILDINGS = ["Main Hall", "Science Center", "Library", "Admin", "Dormitory A", "Dormitory B"]
SSIDS = ["#corpnetwork5", "CorpWiFi", "eduroam", "Guest-WiFi", "IoT-5G"]
USER_NAMES = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "wendy",
]
GROUPS = ["Engineering", "Finance", "Sales", "Support", "Research", "Facilities"]
SENSOR_TIMEZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
SENSOR_PRODUCTS = ["Sentinel", "Sentinel Pro", "Stratus", "IMS-4000", "WSG30"]
SENSOR_SITES = [
    "Server Room",
    "Pump House",
    "Cold Storage",
    "Greenhouse",
    "Well#3",
    "88kTank",
    "TreatmentPlant",
    "Network Closet",
    "Freezer Bay",
    "Boiler Room",
]

# (platform, os family, os name, os versions, manufacturer, models)
ENDPOINT_KINDS = [
    (
        "windows",
        "Windows",
        "Microsoft Windows 11 Enterprise",
        ["10.0.22621", "10.0.22631"],
        "LENOVO",
        ["20QVS0FN00", "21CB0089US", "20XW004EUS"],
    ),
    (
        "windows",
        "Windows",
        "Microsoft Windows 10 Pro",
        ["10.0.19045"],
        "DELL",
        ["Latitude 7420", "Latitude 5530", "Precision 3571"],
    ),
    (
        "macos",
        "macOS",
        "macOS Sonoma",
        ["14.4.1", "14.6"],
        "APPLE",
        ["MacBookPro18,3", "MacBookAir10,1"],
    ),
    ("linux", "Linux", "Ubuntu 22.04 LTS", ["22.04"], "LENOVO", ["ThinkPad X1 Carbon Gen 11"]),
]
PHONE_KIND = ("android", "Android", "Android 14", ["14"], "SAMSUNG", ["SM-S911U", "SM-A546U"])
VENDORS_WITH_ENDPOINTS = ("7signal", "metaaccess")
# Shares of the laptops running both agents that get each quirk (at least one each once the
# fleet has QUIRK_MIN_LAPTOPS such laptops; none below, so tiny test fleets stay simple).
WIRED_SHARE = 0.05  # docked: a wired MAC too, which only MetaAccess (it lists every adapter) sees
RENAMED_SHARE = 0.03  # renamed; one vendor still shows the old (imaging default) name
REIMAGED_SHARE = 0.02  # re-imaged: new agent records; the old ones stay, silent, same MAC
QUIRK_MIN_LAPTOPS = 50  # about 63 devices: the demo (200) has them, small test fleets not


@dataclass(slots=True)
class Location:
    id: str
    name: str
    building: str
    floor: int


@dataclass(slots=True)
class Endpoint:
    """A laptop, desktop or phone on the campus. ``agent_id``/``device_id`` are None when the
    device does not run that vendor's agent."""

    index: int
    hostname: str
    mac: str
    platform: str
    os_family: str
    os_name: str
    os_version: str
    manufacturer: str
    model: str
    user: str
    group: str
    location_id: str
    ssid: str
    local_ip: str
    public_ip: str
    agent_id: str | None
    device_id: str | None
    physical: str = ""  # the physical device this record belongs to (``pd-<index>``)
    wired_mac: str | None = None  # a second (Ethernet) adapter
    names: dict[str, str] = field(default_factory=dict)  # vendor -> the (old) name it shows
    stale: bool = False  # an agent record left behind by a re-image: silent since

    def seen_by(self, vendor: str) -> "Endpoint":
        """This record as ``vendor`` shows it (its old name, if it never saw the rename)."""
        name = self.names.get(vendor)
        return self if name is None else replace(self, hostname=name)


@dataclass(slots=True)
class Zone:
    zone_id: int
    name: str
    kind: str  # temperature | water | power | battery | humidity
    units: str
    log_point: int
    low: float | None
    high: float | None
    normal: float


@dataclass(slots=True)
class SensorDevice:
    device_id: int
    serial: str
    name: str
    product: str
    timezone: str
    site: str
    zones: list[Zone]


@dataclass
class Fleet:
    seed: int
    organization: str
    campus: str
    locations: list[Location]
    ssids: list[str]
    endpoints: list[Endpoint]
    sensor_devices: list[SensorDevice] = field(default_factory=list)
    #: Old agent records of re-imaged endpoints (same physical device and MAC, other ids).
    retired: list[Endpoint] = field(default_factory=list)

    def seven_signal_agents(self) -> list[Endpoint]:
        """Every 7SIGNAL agent record, as 7SIGNAL shows it (retired ones last)."""
        return [
            e.seen_by("7signal") for e in self.endpoints + self.retired if e.agent_id is not None
        ]

    def metaaccess_devices(self) -> list[Endpoint]:
        """Every MetaAccess device record, as MetaAccess shows it (retired ones last)."""
        return [
            e.seen_by("metaaccess")
            for e in self.endpoints + self.retired
            if e.device_id is not None
        ]

    def physical_devices(self) -> dict[str, dict]:
        """The truth: each physical endpoint's current hostname and every MAC it has."""
        return {
            e.physical: {
                "hostname": e.hostname,
                "macs": [e.mac] + ([e.wired_mac] if e.wired_mac else []),
            }
            for e in self.endpoints
        }


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _mac(rng: random.Random) -> str:
    octets = [0x74, 0xD8, 0x3E, rng.randrange(256), rng.randrange(256), rng.randrange(256)]
    return ":".join(f"{o:02X}" for o in octets)


def _hwid(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(32))


def generate_fleet(seed: int = 1, devices: int = 200) -> Fleet:
    """Build the campus: ``devices`` endpoints and about one sensor device per 100 of them.

    80 % of endpoints are laptops with both agents, 10 % phones with only the 7SIGNAL agent,
    10 % desktops with only the MetaAccess agent.
    """
    if devices < 1:
        raise ValueError("a fleet needs at least one device")
    rng = random.Random(f"fleet:{seed}")
    locations = []
    for building in BUILDINGS:
        for floor in range(1, 4):
            locations.append(
                Location(_uuid(rng), f"{CAMPUS} - {building} - Floor {floor}", building, floor)
            )
    endpoints = []
    for index in range(devices):
        roll = index % 10
        if roll == 8:
            kind, has_agent, has_device = PHONE_KIND, True, False
        elif roll == 9:
            kind, has_agent, has_device = rng.choice(ENDPOINT_KINDS[:2]), False, True
        else:
            kind, has_agent, has_device = rng.choice(ENDPOINT_KINDS), True, True
        platform, family, os_name, versions, maker, models = kind
        user = rng.choice(USER_NAMES)
        prefix = {"windows": "WIN", "macos": "MAC", "linux": "LNX", "android": "AND"}[platform]
        endpoints.append(
            Endpoint(
                index=index,
                hostname=f"{prefix}-{user.upper()}-{index:05d}",
                mac=_mac(rng),
                platform=platform,
                os_family=family,
                os_name=os_name,
                os_version=rng.choice(versions),
                manufacturer=maker,
                model=rng.choice(models),
                user=user,
                group=rng.choice(GROUPS),
                location_id=rng.choice(locations).id,
                ssid=rng.choice(SSIDS),
                local_ip=f"10.{20 + index // 65025 % 200}.{index // 255 % 255}.{index % 255 + 1}",
                public_ip=f"198.51.100.{rng.randrange(1, 255)}",
                agent_id=_uuid(rng) if has_agent else None,
                device_id=_hwid(rng) if has_device else None,
                physical=f"pd-{index:05d}",
            )
        )
    sensor_devices = []
    zone_id = 5000
    for n in range(max(3, devices // 100)):
        zones = []
        site = SENSOR_SITES[n % len(SENSOR_SITES)]
        specs = [
            ("Temperature", "temperature", "°F", 35.0, 85.0, round(rng.uniform(60, 75), 1)),
            ("Water Level", "water", "Ft", 5.0, 30.0, round(rng.uniform(12, 22), 1)),
            ("Humidity", "humidity", "%", 20.0, 70.0, round(rng.uniform(35, 55), 1)),
            ("Power", "power", "", None, None, 1.0),
            ("Battery", "battery", "V", 11.0, None, round(rng.uniform(12.4, 13.2), 2)),
        ]
        for name, zkind, units, low, high, normal in specs:
            zone_id += 1
            zones.append(
                Zone(
                    zone_id,
                    f"{site} {name}",
                    zkind,
                    units,
                    124_000_000 + zone_id,
                    low,
                    high,
                    normal,
                )
            )
        sensor_devices.append(
            SensorDevice(
                device_id=45_000 + n,
                serial=f"SP{rng.randrange(10**9, 10**10)}",
                name=site if n < len(SENSOR_SITES) else f"{site} {n // len(SENSOR_SITES) + 1}",
                product=rng.choice(SENSOR_PRODUCTS),
                timezone=rng.choice(SENSOR_TIMEZONES),
                site=site,
                zones=zones,
            )
        )
    fleet = Fleet(seed, ORGANIZATION, CAMPUS, locations, list(SSIDS), endpoints, sensor_devices)
    add_quirks(fleet, random.Random(f"fleet-quirks:{seed}"))
    return fleet


def _quirk_count(share: float, population: int) -> int:
    return 0 if population < QUIRK_MIN_LAPTOPS else max(1, round(share * population))


def add_quirks(fleet: Fleet, rng: random.Random) -> None:
    """Make the linked fleet as untidy as a real one, on distinct laptops that run both agents.

    Drawn from their own RNG, after the fleet is built, so every other endpoint (and every
    scenario that picks by position) is what it was without them.
    """
    laptops = [e for e in fleet.endpoints if e.agent_id is not None and e.device_id is not None]
    wired = _quirk_count(WIRED_SHARE, len(laptops))
    renamed = _quirk_count(RENAMED_SHARE, len(laptops))
    reimaged = _quirk_count(REIMAGED_SHARE, len(laptops))
    chosen = rng.sample(laptops, min(len(laptops), wired + renamed + reimaged))
    for endpoint in chosen[:wired]:
        octets = [0x3C, 0x52, 0x82, rng.randrange(256), rng.randrange(256), rng.randrange(256)]
        endpoint.wired_mac = ":".join(f"{o:02X}" for o in octets)
    for endpoint in chosen[wired : wired + renamed]:
        vendor = rng.choice(VENDORS_WITH_ENDPOINTS)
        endpoint.names[vendor] = "DESKTOP-" + "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(7)
        )
    for endpoint in chosen[wired + renamed :]:
        fleet.retired.append(
            replace(
                endpoint,
                agent_id=_uuid(rng),
                device_id=_hwid(rng),
                names=dict(endpoint.names),
                stale=True,
            )
        )
