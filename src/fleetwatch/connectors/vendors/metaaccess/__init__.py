"""OPSWAT MetaAccess connector (see ``connector.py`` for the streams, ``mapping.py`` for the
rules, docs/connectors/metaaccess.md for why)."""

from fleetwatch.connectors.vendors.metaaccess.connector import MetaAccessConnector

__all__ = ["MetaAccessConnector"]
