"""schemathesis hook (SCHEMATHESIS_HOOKS=load.reliability.cohorts_hook): a new canary cohort per request, so a
fuzz run in `canary` reaches both sides instead of the one the client address buckets into."""
from __future__ import annotations

import itertools

import schemathesis

_n = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    case.headers = {**(case.headers or {}), "X-Strangler-Cohort": f"fuzz-{next(_n)}"}
