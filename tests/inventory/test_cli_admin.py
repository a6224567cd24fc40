"""``fleetwatch devices …`` and the admin pages (in-process; no subprocess)."""

import json

from django.core.management import call_command

from fleetwatch.connectors.models import VendorDevice
from fleetwatch.inventory.models import Device, DeviceLink

from .test_services import WIFI, agent, ma


def test_rematch_stats_and_show(store, capsys):
    store("7signal", agent("a1", "WIN-F", WIFI))
    store("metaaccess", ma("m1", "WIN-F", WIFI))
    call_command("devices", "rematch")
    out = json.loads(capsys.readouterr().out)
    assert out["records"] == 2 and out["new"] == 1 and out["mac"] == 1
    call_command("devices", "stats")
    assert json.loads(capsys.readouterr().out)["devices"] == 1
    device = DeviceLink.objects.first().device_id
    call_command("devices", "show", str(device))
    shown = json.loads(capsys.readouterr().out)
    assert {r["vendor_id"] for r in shown["records"]} == {"a1", "m1"}


def test_recount_clears_stale_counters(store, capsys):
    store("7signal", agent("a1", "WIN-H", WIFI))
    Device.objects.update(open_incident_count=3, trouble_vendor_count=2)  # stale: no incident
    call_command("devices", "recount")
    assert capsys.readouterr().out.strip() == "0 devices with open incidents"
    assert list(Device.objects.values_list("open_incident_count", "trouble_vendor_count")) == [
        (0, 0)
    ]


def test_admin_pages_and_unlink_action(store, admin_client):
    store("7signal", agent("a1", "WIN-G", WIFI))
    store("metaaccess", ma("m1", "WIN-G", WIFI))
    link = DeviceLink.objects.get(vendor_device__vendor_id="m1")
    for url in (
        "/admin/inventory/device/",
        f"/admin/inventory/device/{link.device_id}/change/",
        "/admin/inventory/devicelink/",
        f"/admin/inventory/devicelink/{link.pk}/change/",
        "/admin/inventory/incidentdevice/",
    ):
        assert admin_client.get(url).status_code == 200, url
    response = admin_client.post(
        "/admin/inventory/devicelink/",
        {"action": "unlink_by_hand", "_selected_action": [link.pk]},
    )
    assert response.status_code == 302
    moved = DeviceLink.objects.get(pk=link.pk)
    assert moved.rule == "manual-unlink" and moved.device_id != link.device_id
    assert VendorDevice.objects.count() == 2
