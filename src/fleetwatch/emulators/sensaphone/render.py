"""The JSON shapes Sensaphone.net answers with for devices and zones (the History API's
records are in ``history``)."""

from fleetwatch.emulators.fleet import SensorDevice, Zone
from fleetwatch.emulators.sensaphone.model import SHAPES, ZONE_STATES, Timeline, format_value

ZONE_META = {
    "type_list": [
        {"type": kind, "name": shape.label, "units": list(shape.units_options)}
        for kind, shape in SHAPES.items()
    ]
}


def zone_view(timeline: Timeline, device: SensorDevice, zone: Zone, t: int) -> dict:
    """One zone as ``device.zone[]`` and the zone routes show it."""
    value, _ = timeline.reading(device, zone, t)
    status, unack = timeline.zone_state(device, zone, t)
    return {
        "name": zone.name,
        "zone_id": zone.zone_id,
        "enable": True,
        "type": zone.kind,
        "units": zone.units,
        "value": format_value(value, zone),
        "alarm_zone": {
            "alarm_low": zone.low,
            "alarm_high": zone.high,
            "alarm_status": status,
            "alarm_status_str": ZONE_STATES[status],
            "unack_alarms": unack,
        },
        "loggable_zone": {"log_point": zone.log_point, "log_interval": 900},
    }


def device_view(timeline: Timeline, device: SensorDevice, version: str, t: int) -> dict:
    """One device with its zones; v2+ add the zone-type metadata."""
    power_out = device.device_id in timeline.power_failures
    battery = next((z for z in device.zones if z.kind == "battery"), None)
    offline = device.device_id in timeline.offline
    view = {
        "device_id": device.device_id,
        "id": device.serial,
        "name": device.name,
        "description": f"{device.product} at {device.site}",
        "timezone": device.timezone,
        "product": device.product,
        "is_online": not offline,
        "is_offline_unack": offline,
        "offline_timeout": 15,
        "power_value": "Off" if power_out else "On",
        "power_status": 1 if power_out else 2,
    }
    if battery is not None:
        volts, low = timeline.reading(device, battery, t)
        view["battery_value"] = format_value(volts, battery)
        view["battery_status"] = 1 if low else 2
    view["zone"] = [zone_view(timeline, device, z, t) for z in device.zones]
    if version != "v1":
        view["zone_meta"] = ZONE_META
    return view


def zones_view(
    timeline: Timeline, device: SensorDevice, zones: list[Zone], version: str, t: int
) -> dict:
    """A device's zones (the zone routes); v2+ add the zone-type metadata."""
    view = {
        "device_id": device.device_id,
        "name": device.name,
        "zone": [zone_view(timeline, device, z, t) for z in zones],
    }
    if version != "v1":
        view["zone_meta"] = ZONE_META
    return view
