"""Authentication: a bearer key → its tenant and tier. Keys are kept only as sha256 digests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from gateway.config.schema import KeyConfig
from gateway.errors import APIError


class Keyring:
    """Looks keys up by digest, so a config may hold hashes and memory holds no clear keys."""

    def __init__(self, keys: Iterable[KeyConfig]) -> None:
        self._by_digest = {k.digest: k for k in keys}

    def lookup(self, presented: str) -> KeyConfig | None:
        return self._by_digest.get(hashlib.sha256(presented.encode()).hexdigest())

    def __len__(self) -> int:
        return len(self._by_digest)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("Authorization")
    if auth is None:
        return None
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(headers: Mapping[str, str], keyring: Keyring) -> KeyConfig:
    token = bearer_token(headers)
    if token is None:
        raise APIError(
            401,
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.",
            code="missing_api_key",
        )
    key = keyring.lookup(token)
    if key is None:
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")
    return key


def authenticate_admin(headers: Mapping[str, str], keyring: Keyring) -> KeyConfig:
    key = authenticate(headers, keyring)
    if not key.admin:
        raise APIError(403, "This endpoint needs an admin key.", code="admin_required")
    return key
