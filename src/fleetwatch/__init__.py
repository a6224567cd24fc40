"""Fleetwatch: a self-hosted incident hub for device fleets that speaks the Argus API."""

__version__ = "0.1.0"
