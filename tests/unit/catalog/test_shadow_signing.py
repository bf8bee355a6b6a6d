"""proxy/signing.py: the X-Strangler-Shadow HMAC scheme."""
from proxy.signing import parse, sign, verify

KEY = "k" * 32
T = 1_700_000_000


def test_valid_signature_verifies() -> None:
    header = sign(KEY, "post", "/api/products?x=1", b'{"a":1}', ts=T)
    assert verify(KEY, "POST", "/api/products?x=1", b'{"a":1}', header, now=T + 5)


def test_stale_and_future_signatures_fail() -> None:
    header = sign(KEY, "POST", "/p", b"", ts=T)
    assert not verify(KEY, "POST", "/p", b"", header, now=T + 31)
    assert not verify(KEY, "POST", "/p", b"", header, now=T - 31)
    assert verify(KEY, "POST", "/p", b"", header, now=T + 30)


def test_forged_or_tampered_requests_fail() -> None:
    header = sign(KEY, "POST", "/p?a=1", b"body", ts=T)
    assert not verify("x" * 32, "POST", "/p?a=1", b"body", header, now=T)      # other key
    assert not verify(KEY, "POST", "/p?a=1", b"body!", header, now=T)          # tampered body
    assert not verify(KEY, "PUT", "/p?a=1", b"body", header, now=T)            # other method
    assert not verify(KEY, "POST", "/p?a=2", b"body", header, now=T)           # other query
    stamp, mac = parse(header)
    assert not verify(KEY, "POST", "/p?a=1", b"body", f"t={stamp + 1},v1={mac}", now=T)  # moved timestamp
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    assert not verify(KEY, "POST", "/p?a=1", b"body", f"t={stamp},v1={flipped}", now=T)


def test_malformed_headers_are_rejected_not_raised() -> None:
    for header in ("", "garbage", "t=abc,v1=00", "v1=00", "t=1", "t=1,v1=é", None):
        assert not verify(KEY, "POST", "/p", b"", header, now=T)
    assert not verify("", "POST", "/p", b"", sign(KEY, "POST", "/p", b"", ts=T), now=T)
