"""Causes first: one cause per comparison, in a fixed precedence (proxy/parity/causes.py)."""
from proxy.parity.causes import Cause, classify, describe, media_type


def test_status_class_wins_over_the_fields_it_drags_along():
    got = classify(200, 403, "application/json", "application/json",
                   ["status", "$.error", "$.Items", "$.Total"])
    assert (got.cause, got.label, got.key) == (Cause.STATUS_CLASS, "200 → 403", "status_class:200 → 403")
    assert describe(got.cause, got.label, 117) == "200 → 403 on 117 requests"


def test_precedence_error_status_content_type_body_headers_normalised_equal():
    assert classify(200, None, None, None, error="timeout").cause is Cause.ERROR
    assert classify(200, 502, "application/json", "text/html", ["status"]).cause is Cause.ERROR
    assert classify(500, 500, "text/html", "text/html").cause is Cause.EQUAL  # both failed alike
    assert classify(200, 201, "application/json", "application/json", ["status"]).cause is Cause.STATUS
    ct = classify(200, 200, "application/json; charset=utf-8", "text/html", ["$"])
    assert (ct.cause, ct.label) == (Cause.CONTENT_TYPE, "application/json → text/html")
    assert classify(200, 200, "application/json", "application/json; charset=UTF-8", ["$.a"]).cause is Cause.BODY
    hd = classify(200, 200, "a/b", "a/b", ["header:etag"])
    assert (hd.cause, hd.label) == (Cause.HEADERS, "etag")
    norm = classify(200, 200, "a/b", "a/b", [], ["instant", "number", "instant"])
    assert (norm.cause, norm.label) == (Cause.NORMALISED, "instant, number")
    assert not norm.cause.differs and Cause.BODY.differs
    assert classify(200, 200, None, None).cause is Cause.EQUAL


def test_media_type_ignores_parameters_and_case():
    assert media_type("Application/JSON; charset=utf-8") == "application/json"
    assert media_type(None) == ""
