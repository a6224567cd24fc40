"""Which module implements which vendor. Adding a vendor: one module in ``vendors/`` and one
line here (plus its ``Vendor`` choice in models)."""

from importlib import import_module

from fleetwatch.connectors.base import VendorConnector

VENDORS = {
    "7signal": "fleetwatch.connectors.vendors.sevensignal:SevenSignalConnector",
    "metaaccess": "fleetwatch.connectors.vendors.metaaccess:MetaAccessConnector",
    "sensaphone": "fleetwatch.connectors.vendors.sensaphone:SensaphoneConnector",
}


def connector_class(vendor: str) -> type[VendorConnector]:
    module, _, name = VENDORS[vendor].partition(":")
    return getattr(import_module(module), name)
