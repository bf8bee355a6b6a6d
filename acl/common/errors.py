"""The one error translators raise: legacy data that the new model cannot represent faithfully."""
from __future__ import annotations

from typing import Any


class TranslationError(ValueError):
    """`field` (legacy name) holds `value`, which violates `reason`. Callers decide: reject or quarantine."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": repr(self.value), "reason": self.reason}
