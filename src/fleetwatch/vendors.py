"""The one list of vendors Fleetwatch knows.

The connector registry, the emulator server, ``connectors.models.Vendor`` (the database
choices) and the per-vendor loggers in ``settings.LOGGING`` all read this list, so adding a
vendor is one entry here plus its two packages. It imports nothing but the standard library:
the emulators must never import Django, and the settings read it before Django is set up.
"""

from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True, slots=True)
class VendorInfo:
    slug: str  # the stored value (``Connector.vendor``) and the source type
    label: str  # what people read
    name: str  # the enum member name in ``models.Vendor``
    connector: str  # "module:Class" of the connector
    emulator: str  # "module:Class" of the emulator

    @property
    def logger(self) -> str:
        """The vendor's own logger: ``fleetwatch.connectors.<slug>``."""
        return f"fleetwatch.connectors.{self.slug}"


VENDORS: tuple[VendorInfo, ...] = (
    VendorInfo(
        slug="7signal",
        label="7SIGNAL Mobile Eye",
        name="SEVENSIGNAL",
        connector="fleetwatch.connectors.vendors.sevensignal:SevenSignalConnector",
        emulator="fleetwatch.emulators.sevensignal:SevenSignalEmulator",
    ),
    VendorInfo(
        slug="metaaccess",
        label="OPSWAT MetaAccess",
        name="METAACCESS",
        connector="fleetwatch.connectors.vendors.metaaccess:MetaAccessConnector",
        emulator="fleetwatch.emulators.metaaccess:MetaAccessEmulator",
    ),
    VendorInfo(
        slug="sensaphone",
        label="Sensaphone.net",
        name="SENSAPHONE",
        connector="fleetwatch.connectors.vendors.sensaphone:SensaphoneConnector",
        emulator="fleetwatch.emulators.sensaphone:SensaphoneEmulator",
    ),
)

BY_SLUG: dict[str, VendorInfo] = {v.slug: v for v in VENDORS}
SLUGS: tuple[str, ...] = tuple(BY_SLUG)


def load(path: str) -> object:
    """The object a ``"module:attribute"`` path names (imported on first use)."""
    module, _, attr = path.partition(":")
    return getattr(import_module(module), attr)
