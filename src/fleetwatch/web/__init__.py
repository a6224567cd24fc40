"""The web console at ``/``: Django templates and htmx over the same services as the API."""
