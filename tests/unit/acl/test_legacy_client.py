"""Legacy client base: retries only idempotent calls, tolerant reads, legacy envelope on 4xx, loopback only."""
import httpx
import pytest

from acl.common.legacy_client import LegacyClient, LegacyRejected, LegacyUnavailable


class Recorder:
    """A transport answering from a script, recording every call (the HTTP peer, not the client, is faked)."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(recorder: Recorder, cls=LegacyClient, **kwargs) -> LegacyClient:
    return cls("http://127.0.0.1:5000", transport=httpx.MockTransport(recorder), backoff_s=0, **kwargs)


def test_get_is_retried_after_5xx_and_connection_errors() -> None:
    rec = Recorder(httpx.Response(503), httpx.ConnectError("refused"), httpx.Response(200, json={"ok": 1}))
    assert client(rec).get_json("/x") == {"ok": 1}
    assert len(rec.calls) == 3


def test_post_is_never_retried() -> None:
    rec = Recorder(httpx.Response(503))
    with pytest.raises(LegacyUnavailable):
        client(rec).request_json("POST", "/api/inventory/reservations", json={"ProductId": 1})
    assert len(rec.calls) == 1


def test_4xx_surfaces_the_legacy_envelope() -> None:
    rec = Recorder(httpx.Response(409, json={"Success": False, "ErrorCode": "INSUFFICIENT_STOCK",
                                             "ErrorMessage": "fewer than 3"}))
    with pytest.raises(LegacyRejected) as caught:
        client(rec).get_json("/x")
    assert (caught.value.status, caught.value.code, caught.value.message) == (409, "INSUFFICIENT_STOCK",
                                                                              "fewer than 3")
    assert len(rec.calls) == 1


def test_remote_hosts_are_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LegacyClient("http://example.com")
