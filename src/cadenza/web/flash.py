"""Flash messages across a POST → redirect → GET: a short-lived cookie, signed so nobody can plant one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

FLASH_COOKIE = "cadenza_flash"
LEVELS = ("success", "info", "warning", "error")


@dataclass(frozen=True)
class Flash:
    level: str
    message: str


def _sign(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, b"flash:" + payload, hashlib.sha256).hexdigest()[:32]


def encode_flash(secret: bytes, flashes: list[Flash]) -> str:
    raw = json.dumps([[f.level, f.message] for f in flashes], separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{payload}.{_sign(secret, payload.encode())}"


def decode_flash(secret: bytes, value: str | None) -> list[Flash]:
    if not value or "." not in value:
        return []
    payload, signature = value.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(secret, payload.encode())):
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return []
    return [Flash(level, message) for level, message in items if level in LEVELS and isinstance(message, str)]


def set_flash(response: Response, secret: bytes, flashes: list[Flash], *, secure: bool) -> None:
    response.set_cookie(FLASH_COOKIE, encode_flash(secret, flashes), max_age=120, path="/", httponly=True,
                        samesite="lax", secure=secure)


def read_flashes(request: Request, secret: bytes) -> list[Flash]:
    return decode_flash(secret, request.cookies.get(FLASH_COOKIE))


def forget_flashes(request: Request, response: Response, *, secure: bool) -> None:
    """Removes the shown flashes from the browser, so a reload does not show them again."""
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
