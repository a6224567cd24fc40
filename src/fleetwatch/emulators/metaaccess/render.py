"""JSON shapes of MetaAccess devices and activities, per API version."""

from datetime import datetime

from fleetwatch.emulators.fleet import Endpoint
from fleetwatch.emulators.metaaccess.model import Activity, DeviceState, World, stable_hash

AGENT_VERSIONS = ["4.3.3620.0", "4.3.3804.0", "4.3.4023.0"]
OESIS_VERSIONS = ["4.3.3610.0", "4.3.3790.0"]
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
OS_VENDORS = {"Windows": "Microsoft Corp.", "macOS": "Apple Inc.", "Linux": "Canonical Ltd."}
ADAPTERS = {
    "Windows": "Intel(R) Wi-Fi 6 AX201 160MHz",
    "macOS": "Wi-Fi",
    "Linux": "wlp0s20f3",
}
REMEDIATION = "https://gears.opswat.com/o/remediation.html?device_id="
# (category_id, category, issue) a device can fail; the names are OESIS policy categories
# [F: Antivirus, Anti-phishing, Public File Sharing, Malware detection, Other; I: the rest].
CRITICAL_ISSUES = (
    (5, "Antivirus", "Real-time protection is turned off"),
    (13, "Encryption", "The system disk is not encrypted"),
    (6, "Firewall", "The firewall is turned off"),
    (10, "Patch Management", "Critical security patches are missing"),
    (7, "Malware detection", "A threat was found and not removed"),
    (5, "Antivirus", "Virus definitions are more than 7 days old"),
)
WARNING_ISSUES = (
    (11, "Backup", "No backup in the last 14 days"),
    (8, "Public File Sharing", "A public file-sharing application is installed"),
    (9, "Anti-phishing", "The browser's anti-phishing protection is off"),
    (10, "Patch Management", "Operating system updates are pending"),
    (12, "Other", "The screen does not lock within 15 minutes"),
    (12, "Other", "The browser version is no longer supported"),
)


def iso_z(when: datetime) -> str:
    """The vendor's GMT timestamp style, e.g. 2017-10-16T03:11:09Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def activity_time(when: datetime) -> str:
    """ "May 18, 2018 10:40:00 AM": Java's MEDIUM en_US date-time (locale-independent here)."""
    hour = when.hour % 12 or 12
    half = "AM" if when.hour < 12 else "PM"
    return f"{MONTHS[when.month - 1]} {when.day}, {when.year} {hour}:{when:%M:%S} {half}"


def issue(state: DeviceState) -> dict:
    return {
        "total_issue": state.critical + state.warning,
        "total_critical_issue": state.critical,
        "total_warning_issue": state.warning,
    }


def _pick(catalog: tuple, count: int, h: int) -> list[tuple[int, str, str]]:
    start = h % len(catalog)
    return [catalog[(start + k) % len(catalog)] for k in range(min(count, len(catalog)))]


def categories(device_id: str, state: DeviceState) -> list[dict]:
    """The issues behind ``issue``'s counters, critical first: one entry per issue, picked
    from the catalogs by the device and its change, so the same state always names the same
    issues and a new change may name others [I: the vendor's ``categories[]{category_id,
    issue, apps}`` (opswat-php), with ``name`` and ``severity`` added]."""
    h = stable_hash(f"{device_id}:{state.seq}")
    chosen = [("critical", item) for item in _pick(CRITICAL_ISSUES, state.critical, h)]
    chosen += [("warning", item) for item in _pick(WARNING_ISSUES, state.warning, h >> 8)]
    return [
        {"category_id": cid, "name": name, "severity": severity, "issue": issue, "apps": []}
        for severity, (cid, name, issue) in chosen
    ]


def device_type(endpoint: Endpoint) -> str:
    """Desktops run only the MetaAccess agent; the rest of the fleet are laptops."""
    return "desktop" if endpoint.agent_id is None and endpoint.index >= 0 else "laptop"


def ipv6(mac: str) -> str:
    """A link-local EUI-64 address derived from the MAC."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


WIRED_ADAPTER = "Intel(R) Ethernet Connection (13) I219-LM"


def macs(endpoint: Endpoint) -> list[str]:
    """Every adapter's MAC, as MetaAccess lists them: a docked laptop's wired one first."""
    return ([endpoint.wired_mac] if endpoint.wired_mac else []) + [endpoint.mac]


def wired_ip(endpoint: Endpoint) -> str:
    return endpoint.local_ip.replace("10.", "10.1", 1)  # the wired VLAN: 10.1xx.…


def brief_network(endpoint: Endpoint) -> list[dict]:
    """Every adapter's address and MAC, a docked laptop's wired one first."""
    wireless = {"ipv4": endpoint.local_ip, "mac": endpoint.mac}
    if endpoint.wired_mac:
        return [{"ipv4": wired_ip(endpoint), "mac": endpoint.wired_mac}, wireless]
    return [wireless]


def full_network(world: World, endpoint: Endpoint, device_id: str) -> list[dict]:
    """Every adapter, a docked laptop's wired one first."""
    lease = world.dt(world.last_tick - stable_hash(device_id) % 43200)
    adapters = []
    if endpoint.wired_mac:
        adapters.append((WIRED_ADAPTER, wired_ip(endpoint), endpoint.wired_mac))
    adapters.append((ADAPTERS.get(endpoint.os_family, "Wi-Fi"), endpoint.local_ip, endpoint.mac))
    return [
        {
            "description": name,
            "ipv4": ip,
            "ipv6": ipv6(mac),
            "mac": mac,
            "subnet_mask": "255.255.0.0",
            "media_state": "connected",
            "dhcp_enabled": "true",
            "dhcp_obtained": iso_z(lease),
            "dhcp_expires": iso_z(world.dt(world.rel(lease) + 86400)),
            "dhcp_server": f"{prefix}.255.253",
            "adapter_enabled": "true",
            "default_gateway": f"{prefix}.255.254",
            "dns_addresses": [f"{prefix}.255.252", "1.1.1.1"],
        }
        for name, ip, mac in adapters
        for prefix in [".".join(ip.split(".")[:2])]  # fleet hosts never use x.y.255.z
    ]


def os_info(endpoint: Endpoint) -> dict:
    return {
        "service_pack_version": "",
        "vendor": OS_VENDORS.get(endpoint.os_family, ""),
        "family": endpoint.os_family,
        "os_language": "English",
        "name": endpoint.os_name,
        "architecture": "64-bit",
        "version": endpoint.os_version,
        "type": endpoint.platform,
        "user_password_set": 1,
    }


def status_detail(state: DeviceState) -> dict:
    return {
        "exempted": int(state.status == "exempted"),
        "pending": 0,
        "compliant": int(state.status == "compliant"),
    }


def agent_version(device_id: str) -> str:
    return AGENT_VERSIONS[stable_hash(device_id) % len(AGENT_VERSIONS)]


def monitored_device(world: World, device_id: str, verbose: bool) -> dict:
    """A ``monitored_devices`` item of v3 status_changed (spec examples 1 and 2)."""
    endpoint = world.endpoints[device_id]
    state = world.state(device_id)
    if not verbose:
        return {
            "device_id": device_id,
            "severity": state.severity,
            "status": state.status,
            "issue": issue(state),
            "network_info": brief_network(endpoint),
        }
    h = stable_hash(device_id)
    return {
        "device_id": device_id,
        "device_type": device_type(endpoint),
        "device_name": endpoint.hostname,
        "nick_name": f"{endpoint.user}-{endpoint.group.lower()}",
        "group_name": endpoint.group,
        "agent_version": agent_version(device_id),
        "oesis_version": OESIS_VERSIONS[h % len(OESIS_VERSIONS)],
        "country": "US",
        "last_seen": iso_z(world.dt(world.last_seen(device_id))),
        "public_ip": endpoint.public_ip,
        "remediation_link": REMEDIATION + device_id,
        "user_identity": endpoint.group.lower(),
        "link_user": {"username": endpoint.user, "group": endpoint.group},
        "user_info": {"username": endpoint.user, "domain": "FLEETWATCH"},
        "network_info": full_network(world, endpoint, device_id),
        "os_info": os_info(endpoint),
        "severity": state.severity,
        "status": state.status,
        "status_detail": status_detail(state),
        "issue": issue(state),
        "categories": categories(device_id, state),
    }


def deleted_device(world: World, device_id: str) -> dict:
    """A ``deleted_devices`` item: the minimum the vendor keeps for a device that is gone."""
    endpoint = world.endpoints[device_id]
    return {
        "device_id": device_id,
        "device_name": endpoint.hostname,
        "network_info": brief_network(endpoint),
    }


def v22_device(world: World, device_id: str) -> dict:
    """A v2.2 device-list item, plus the v3 ``status``/``severity`` (an emulator extension)."""
    endpoint = world.endpoints[device_id]
    state = world.state(device_id)
    info = os_info(endpoint)
    info["user_password_set"] = "1"
    info.pop("type")
    return {
        "hwid": device_id,
        "hostname": endpoint.hostname,
        "nickname": f"{endpoint.user}-{endpoint.group.lower()}",
        "agent_version": agent_version(device_id),
        "last_seen": iso_z(world.dt(world.last_seen(device_id))),
        "machine_type": device_type(endpoint),
        "country": "United States",
        "active": 1,
        "total_issue": state.critical + state.warning,
        "user_info": {"username": endpoint.user, "domain": "FLEETWATCH"},
        "os_info": info,
        "network_info": [
            {"mac_addr": item["mac"], "ipv4_addr": item["ipv4"], "ipv6_addr": ipv6(item["mac"])}
            for item in brief_network(endpoint)
        ],
        "status": state.status,
        "severity": state.severity,
    }


def v36_device(world: World, device_id: str) -> dict:
    """A v3.6 cursor-list item."""
    endpoint = world.endpoints[device_id]
    state = world.state(device_id)
    return {
        "device_id": device_id,
        "host_name": endpoint.hostname,
        "nick_name": f"{endpoint.user}-{endpoint.group.lower()}",
        "group_name": endpoint.group,
        "device_type": device_type(endpoint),
        "agent_version": agent_version(device_id),
        "enrolled_at": iso_z(world.dt(world.enrolled(device_id))),
        "last_seen": iso_z(world.dt(world.last_seen(device_id))),
        "severity": state.severity,
        "status": state.status,
        "issue": issue(state),
        "network_info": brief_network(endpoint),
        "os_info": {
            "family": endpoint.os_family,
            "name": endpoint.os_name,
            "version": endpoint.os_version,
        },
    }


def activity(world: World, item: Activity) -> dict:
    return {
        "app_name": item.app_name,
        "device_status": item.device_status,
        "device_name": item.device_name,
        "device_id": item.device_id,
        "access_rule": item.access_rule,
        "app_user": item.app_user,
        "device_group": item.device_group,
        "action": item.action,
        "timestamp": activity_time(world.dt(item.t)),
    }
