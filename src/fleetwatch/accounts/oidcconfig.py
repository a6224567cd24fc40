"""The OpenID Connect login's configuration, read from the environment by the settings.

A frozen value (``settings.OIDC``, None when single sign-on is off) rather than a dozen loose
settings: the web console caches one OAuth client per configuration, and a test swaps the whole
configuration at once. Pure Python — the settings import it before Django is set up.
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DISCOVERY_PATH = "/.well-known/openid-configuration"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(name: str, url: str) -> None:
    """``url`` must be https, or http to a loopback address (a provider on the same machine):
    the client secret and the identity tokens travel over it."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ValueError(f"{name} must be an https:// URL (http:// only to a loopback address)")


def groups(values: Iterable[str]) -> frozenset[str]:
    return frozenset(value.strip() for value in values if value.strip())


@dataclass(frozen=True)
class OIDCConfig:
    """Everything the OIDC login needs; ``FLEETWATCH_OIDC_*`` in README's settings table."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)  # never in a repr, a log line or a debug page
    provider_name: str = "single sign-on"
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    # Explicit endpoints; when the authorization, token and JWKS ones are all given, the
    # provider's discovery document is not fetched.
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    jwks_uri: str = ""
    userinfo_endpoint: str = ""
    discovery_url: str = ""  # default: <issuer>/.well-known/openid-configuration
    username_claim: str = "preferred_username"
    create_users: bool = True
    link_existing_users: bool = False
    groups_claim: str = "groups"
    required_groups: frozenset[str] = frozenset()
    staff_groups: frozenset[str] = frozenset()
    redirect_uri: str = ""  # default: built from the request (<host>/login/oidc/callback/)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("FLEETWATCH_OIDC_CLIENT_ID is required with FLEETWATCH_OIDC_ISSUER")
        if "openid" not in self.scopes:
            raise ValueError("FLEETWATCH_OIDC_SCOPES must include openid")
        if not self.username_claim:
            raise ValueError("FLEETWATCH_OIDC_USERNAME_CLAIM must not be empty")
        if self.timeout <= 0:
            raise ValueError("FLEETWATCH_OIDC_TIMEOUT must be a positive number of seconds")
        self._check_endpoints()

    def _check_endpoints(self) -> None:
        explicit = [self.authorization_endpoint, self.token_endpoint, self.jwks_uri]
        if any(explicit) and not all(explicit):
            raise ValueError(
                "FLEETWATCH_OIDC_AUTHORIZATION_ENDPOINT, _TOKEN_ENDPOINT and _JWKS_URI go "
                "together (or leave all three unset to use discovery)"
            )
        urls = {
            "FLEETWATCH_OIDC_ISSUER": self.issuer,
            "FLEETWATCH_OIDC_DISCOVERY_URL": self.discovery_url,
            "FLEETWATCH_OIDC_AUTHORIZATION_ENDPOINT": self.authorization_endpoint,
            "FLEETWATCH_OIDC_TOKEN_ENDPOINT": self.token_endpoint,
            "FLEETWATCH_OIDC_JWKS_URI": self.jwks_uri,
            "FLEETWATCH_OIDC_USERINFO_ENDPOINT": self.userinfo_endpoint,
        }
        for name, url in urls.items():
            if url:
                check_url(name, url)

    @property
    def uses_discovery(self) -> bool:
        return not self.authorization_endpoint

    @property
    def metadata_url(self) -> str:
        """Where the discovery document is: the configured URL, else the issuer's well-known
        one (OpenID Connect Discovery 1.0, section 4: the issuer without a trailing slash)."""
        return self.discovery_url or self.issuer.rstrip("/") + DISCOVERY_PATH
