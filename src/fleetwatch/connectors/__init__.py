"""Connectors pull incidents from vendor APIs into the hub.

One shared layer — ``base`` (the contract: what a vendor module declares, is given and
returns), ``http`` (timeouts, retries, backoff, the auth flow), ``auth`` (authenticators as
flows), ``options`` (declared once, with defaults), ``pagination``, ``ratelimit`` (a persistent
limiter shared by every worker), ``redaction`` (secrets out of logs, via ``settings.LOGGING``),
``hub`` (the read-only view of what the hub knows), ``engine`` (the poll: streams → one
transaction with the bookmarks) and ``tasks`` (the schedule) — and one package per vendor in
``vendors/`` that declares only what differs. The vendors themselves are listed once, in
``fleetwatch.vendors``.
"""
