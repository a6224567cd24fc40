"""Connectors pull incidents from vendor APIs into the hub.

One shared layer — ``http`` (timeouts, retries, backoff), ``ratelimit`` (a persistent limiter
shared by every worker), ``auth`` (authenticators with cached tokens), ``pagination``,
``engine`` (the poll: streams → one transaction with the bookmarks) and ``tasks`` (the
schedule) — and one module per vendor in ``vendors/`` that declares only what differs.
"""
