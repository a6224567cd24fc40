"""7SIGNAL Mobile Eye connector (see ``connector.py`` for the streams, ``mapping.py`` for the
rules, docs/connectors/7signal.md for why)."""

from fleetwatch.connectors.vendors.sevensignal.connector import SevenSignalConnector

__all__ = ["SevenSignalConnector"]
