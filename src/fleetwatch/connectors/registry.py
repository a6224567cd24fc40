"""Which module implements which vendor: read from the one vendor list, ``fleetwatch.vendors``.
Adding a vendor: its entry there and its package in ``connectors/vendors/``."""

from fleetwatch import vendors
from fleetwatch.connectors.base import VendorConnector

#: slug → "module:Class" of its connector (from ``fleetwatch.vendors``)
VENDORS = {v.slug: v.connector for v in vendors.VENDORS}


def connector_class(vendor: str) -> type[VendorConnector]:
    """The connector class for ``vendor``; KeyError for a vendor not in the list."""
    cls = vendors.load(path := vendors.BY_SLUG[vendor].connector)
    if not (isinstance(cls, type) and issubclass(cls, VendorConnector)):
        raise TypeError(f"{path} is not a VendorConnector")
    return cls
