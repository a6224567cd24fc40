"""Sensaphone.net connector (registry: ``fleetwatch.connectors.vendors.sensaphone``)."""

from fleetwatch.connectors.vendors.sensaphone.connector import SensaphoneConnector

__all__ = ["SensaphoneConnector"]
