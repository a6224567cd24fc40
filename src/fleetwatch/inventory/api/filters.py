"""The device list's filters: they live in the inventory domain
(``fleetwatch.inventory.filtersets``), shared with the web console's devices page; this name
stays for the API's imports."""

from fleetwatch.inventory.filtersets import DeviceFilterSet

__all__ = ["DeviceFilterSet"]
