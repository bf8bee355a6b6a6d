"""The route table's `record:` section (per feature, and at top level for the default upstream's traffic).

    record: {rate: 0.05, body_limit: 65536, max_mb: 200,
             redact: {headers: [X-Api-Key], json_paths: [$.password], query: [token]}}

Named apart from `limits.max_body_bytes` (which answers 413): `body_limit` only bounds what is KEPT of a body;
a longer body is recorded as truncated and never replayed as if whole. Authorization, Cookie, Set-Cookie and
Proxy-Authorization are always redacted (proxy/parity/redact.py); `redact` adds headers, JSON body paths (the
parity rules' JSONPath subset) and query parameters. Errors carry their fix like the rest of the table
(proxy/table.py reads `fix_hint` / `problem` from the error context and adds the line).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError


def _problem(problem: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("bad_record", "{problem}", {"fix_hint": fix, "problem": problem})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedactConfig(_Model):
    headers: list[str] = []      # request and response headers, beside the built-in secret ones
    json_paths: list[str] = []   # request and response JSON bodies, e.g. $.password, $..token
    query: list[str] = []        # query parameter names, e.g. token, api_key

    @field_validator("headers", "query")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        if any(not isinstance(n, str) or not n.strip() or any(c in n for c in "&=?:\n") for n in v):
            raise _problem("record.redact holds an empty or malformed name",
                           "list header or query parameter names, e.g. [X-Api-Key] or [token]")
        return v

    @field_validator("json_paths")
    @classmethod
    def _paths(cls, v: list[str]) -> list[str]:
        from proxy.parity.paths import PathPatternError, compile_pattern  # lazy: proxy.parity imports the table

        for p in v:
            if not p.startswith("$"):
                raise _problem(f"record.redact.json_paths: {p!r} is not a JSON path",
                               "start it with '$', e.g. $.password or $..token")
            try:
                compile_pattern(p)
            except PathPatternError as exc:
                raise _problem(str(exc).split("; ")[0], "write .name, ['name'], [N], [*], .* or ..name") from None
        return v

    @property
    def rules(self) -> list[str]:
        """Every configured rule as one label ("header:X-Api-Key", "json:$.password", "query:token"): what
        `strangler record status` warns about when it matched nothing."""
        return ([f"header:{h.lower()}" for h in self.headers] + [f"json:{p}" for p in self.json_paths] +
                [f"query:{q}" for q in self.query])


class RecordConfig(_Model):
    rate: float = Field(0.05, ge=0, le=1)               # share of the requests recorded
    body_limit: int = Field(65536, ge=0, le=16 * 1024 * 1024)  # bytes of a body kept (longer: truncated)
    max_mb: float = Field(200, gt=0)                    # the recordings kept per feature; oldest dropped first
    redact: RedactConfig = RedactConfig()

    @field_validator("redact", mode="before")
    @classmethod
    def _redact(cls, v: Any) -> Any:
        return {} if v is None else v


DEFAULT_FEATURE = "-"  # what the recordings of the default upstream's traffic are filed under
