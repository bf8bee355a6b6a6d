"""Cursor pagination for the native /v2 APIs: an opaque cursor that carries the last id seen, so pages stay
stable while rows are added (unlike page/offset, which the legacy API uses)."""
from __future__ import annotations

import base64
import binascii
import json

from new_services.common.problems import Problem


def encode_cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = payload["after"]
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValueError
        return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Problem(400, "cursor is not one this API issued; use next_cursor from a previous page "
                           "or omit it to start at the beginning", code="INVALID_CURSOR") from None
