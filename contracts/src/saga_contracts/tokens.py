"""Tracking tokens: an HMAC of the order id with a server secret. Issued by orders at creation,
checked by orders and notifications; whoever holds it may see that order and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac


def tracking_token(secret: str, order_id: str) -> str:
    digest = hmac.new(secret.encode(), order_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_matches(secret: str, order_id: str, token: str | None) -> bool:
    if not token:
        return False
    # Compared as bytes: compare_digest refuses str with non-ASCII characters, and a token comes
    # from a query string or header, where anything can be written.
    expected = tracking_token(secret, order_id).encode()
    return hmac.compare_digest(expected, token.encode("utf-8", "replace"))
