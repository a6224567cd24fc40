"""Local, faithful emulators of the vendor APIs Fleetwatch's connectors pull from.

Starlette applications with no Django import: each vendor module (``sevensignal``,
``metaaccess``, ``sensaphone``) subclasses :class:`~fleetwatch.emulators.base.VendorEmulator`
and declares only what differs; the clock, fleet, fault injection, rate limiters, request
counters and the ``/_emulator/`` control API are shared.
"""
