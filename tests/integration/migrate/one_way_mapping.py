"""The catalog mapping without its reverse translator: what a team has before it writes `to_source`
(used by test_handover_facade.py to show that handover refuses it)."""
import dataclasses

from acl.catalog.mapping import PRODUCTS as TWO_WAY

PRODUCTS = dataclasses.replace(TWO_WAY, to_source=None)
