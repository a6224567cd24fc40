"""The JSON shapes 7SIGNAL answers with: agents, incidents and the vendor's time strings."""

from functools import lru_cache

from fleetwatch.emulators.fleet import Endpoint
from fleetwatch.emulators.sevensignal.model import (
    MINUTE_MS,
    Incident,
    bits,
    from_ms,
    last_seen,
    last_test_seen,
    licensed,
)

PERMISSION_FIELDS = (
    "locationPermissionStatus",
    "readAccountPermissionStatus",
    "backgroundLocationPermissionStatus",
    "writeExternalStoragePermissionStatus",
)
AGENT_VERSIONS = {
    "windows": ("4.7.2+6217", "4.6.9+6090"),
    "macos": ("4.7.1+6198", "4.6.8+6071"),
    "linux": ("4.5.0+5873", "4.5.0+5873"),
    "android": ("4.7.3+6231", "4.7.0+6150"),
}
DRIVERS = {
    "windows": (
        ("Intel - Intel(R) Wi-Fi 6 AX201 160MHz", "22.170.0.3"),
        ("Intel - Intel(R) Wi-Fi 6E AX211 160MHz", "23.20.0.4"),
        ("Realtek - Realtek 8852BE Wireless LAN WiFi 6 PCI-E NIC", "6001.16.145.0"),
    ),
    "macos": (("Apple - Broadcom BCM4387", "20.10.1058.3.8.7.171"),),
    "linux": (("Intel - iwlwifi", "6.5.0-35-generic"),),
}
MARKET_MODELS = {
    "MacBookPro18,3": "MacBook Pro (14-inch, 2021)",
    "MacBookAir10,1": "MacBook Air (M1, 2020)",
    "SM-S911U": "Galaxy S23",
    "SM-A546U": "Galaxy A54 5G",
}


@lru_cache(maxsize=65_536)
def iso_ms(ms: int) -> str:
    """``2026-08-17T14:12:00.000Z``: how the vendor writes incident timestamps (cached: an
    incident list renders four per incident, and strftime dominated the request)."""
    w = from_ms(ms)
    # not strftime: its %Y drops the leading zeros of years before 1000 on glibc
    return (
        f"{w.year:04d}-{w.month:02d}-{w.day:02d}T{w.hour:02d}:{w.minute:02d}:{w.second:02d}"
        f".{ms % 1000:03d}Z"
    )


def zoned_ms(ms: int) -> str:
    """Java ``ZonedDateTime`` style, as in ``range.fromAsDateString``."""
    return iso_ms(ms) + "[UTC]"


def duration_text(ms: int) -> str:
    """``86400000`` → ``"24 hours"``: hours, minutes, seconds and milliseconds, zeros omitted."""
    parts = []
    for unit, size in (
        ("hour", 3_600_000),
        ("minute", 60_000),
        ("second", 1000),
        ("millisecond", 1),
    ):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 milliseconds"


def agent_version(agent: Endpoint) -> str:
    return AGENT_VERSIONS[agent.platform][(bits(agent.agent_id) >> 24) & 1]


def market_model(agent: Endpoint) -> str:
    return MARKET_MODELS.get(agent.model, agent.model)


def permissions(platform: str, h: int) -> dict:
    """The OS permission fields: Android asks for all four, desktops only for location."""
    granted_or = ("GRANTED", "GRANTED", "GRANTED", "GRANTED", "GRANTED", "DENIED")
    if platform == "android":
        values = (
            granted_or[h % 6],
            ("GRANTED", "NOT_REQUESTED")[(h >> 3) & 1],
            ("GRANTED", "GRANTED", "DENIED", "NOT_REQUESTED")[(h >> 4) & 3],
            ("NOT_REQUESTED", "GRANTED")[(h >> 6) & 1],
        )
    elif platform in ("macos", "windows"):
        location = granted_or[h % 6]
        if platform == "windows" and location == "DENIED":
            location = "NOT_REQUESTED"
        values = (location, "NOT_REQUESTED", "NOT_REQUESTED", "NOT_REQUESTED")
    else:
        values = ("NOT_REQUESTED",) * 4
    return dict(zip(PERMISSION_FIELDS, values, strict=True))


def agent(
    agent: Endpoint,
    now_ms: int,
    epoch_ms: int,
    location_names: dict[str, str],
    location_index: int,
    ssid_index: int,
) -> dict:
    """One ``/eyes/agents`` record, keys in the vendor's order."""
    h = bits(agent.agent_id)
    platform = agent.platform
    seen = last_seen(agent, now_ms, epoch_ms)
    data = {
        "id": agent.agent_id,
        "name": agent.hostname,
        "manufacturer": agent.manufacturer,
        "model": agent.model,
        "platform": platform,
        "version": agent.os_version,
    }
    drivers = DRIVERS.get(platform)
    if drivers:
        provider, version = drivers[(h >> 20) % len(drivers)]
        data["driverProvider"], data["driverVersion"] = provider, version
    radio = 0x10 + ssid_index
    data.update(
        {
            "mac": agent.mac,
            "lastSeen": seen,
            "lastSsid": agent.ssid,
            "lastTestSeen": last_test_seen(agent, seen),
            "lastAgentVersion": agent_version(agent),
            "remoteIpAddress": agent.public_ip,
            "numberOfTxSpatialStreams": 1 if platform == "android" and h >> 26 & 3 == 0 else 2,
            "numberOfRxSpatialStreams": 1 if platform == "android" and h >> 26 & 3 == 0 else 2,
            "lastDefinedLocationId": agent.location_id,
            "lastDefinedLocation": location_names.get(agent.location_id),
        }
    )
    data.update(permissions(platform, h >> 90))
    data.update(
        {
            "lastBssid": f"a8:bd:27:{location_index:02x}:{(h >> 80) % 8:02x}:{radio:02x}",
            "localIpAddress": agent.local_ip,
            "isLicensed": licensed(agent),
            "marketModel": market_model(agent),
        }
    )
    return data


def as_of(incident: Incident, now_ms: int) -> int:
    """``asOfTimestamp``: the last evaluation minute, which settles a while after the end."""
    evaluated = now_ms - now_ms % MINUTE_MS
    if incident.end_ms is None:
        return max(incident.determined_ms, evaluated)
    return max(incident.end_ms, min(evaluated, incident.end_ms + incident.settle_ms))


def incident(incident: Incident, now_ms: int, organization: str, flat: bool = False) -> dict:
    """One incident; the detail route (``flat``) lists the thresholds at the top level."""
    data = {
        "id": incident.id,
        "startTimestamp": iso_ms(incident.start_ms),
        "asOfTimestamp": iso_ms(as_of(incident, now_ms)),
    }
    if incident.end_ms is not None:
        data["endTimestamp"] = iso_ms(incident.end_ms)
    data.update(
        {
            "timestampDeterminedToBeIncident": iso_ms(incident.determined_ms),
            "organizationName": organization,
            "type": incident.type,
            "location": incident.location_id,
            "locationName": incident.location_name,
            "network": incident.network,
            "band": incident.band,
            "countImpacted": incident.count_impacted,
            "populationCount": incident.population_count,
        }
    )
    if flat:
        data.update(incident.thresholds)
    else:
        data["thresholds"] = dict(incident.thresholds)
    return data
