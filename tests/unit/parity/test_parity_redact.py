"""The one redaction module (proxy/parity/redact.py): secrets become named placeholders, never dropped silently."""
from proxy.parity.redact import Redactor, header_names, placeholder, placeholder_env, placeholder_of


def test_placeholders_are_named_after_the_header():
    assert placeholder_env("Authorization") == "STRANGLER_REPLAY_AUTHORIZATION"
    assert placeholder("X-Api-Key") == "${STRANGLER_REPLAY_X_API_KEY}"
    assert placeholder_of("${STRANGLER_REPLAY_COOKIE}") == "STRANGLER_REPLAY_COOKIE"
    assert placeholder_of("Bearer ${STRANGLER_REPLAY_COOKIE}") is None


def test_stored_headers_keep_names_and_lose_secret_values():
    redactor = Redactor.of(["X-Api-Key"])
    stored = redactor.headers([("Authorization", "Bearer t"), ("cookie", "s=1"), ("X-API-KEY", "k"),
                               ("Accept", "*/*"), ("X-Strangler-Signature", "sig")])
    assert stored == [("Authorization", "${STRANGLER_REPLAY_AUTHORIZATION}"), ("cookie", "${STRANGLER_REPLAY_COOKIE}"),
                      ("X-API-KEY", "${STRANGLER_REPLAY_X_API_KEY}"), ("Accept", "*/*")]
    assert header_names(stored) == ["accept", "authorization", "cookie", "x-api-key"]


def test_replay_keeps_every_replayable_header_and_redacts_even_an_old_raw_secret():
    headers, redacted = Redactor().replayable([("Authorization", "Bearer raw-from-old-store"), ("Accept", "a/b"),
                                               ("Host", "x"), ("Content-Length", "3"), ("X-Trace", "1")])
    assert headers == {"Authorization": "${STRANGLER_REPLAY_AUTHORIZATION}", "Accept": "a/b", "X-Trace": "1"}
    assert redacted == {"Authorization": "STRANGLER_REPLAY_AUTHORIZATION"}
