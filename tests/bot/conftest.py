"""The moto-backed store fixtures of tests/store, for the bot's lease tests."""

from tests.store.conftest import aws, clock, make_store, resource, store

__all__ = ["aws", "clock", "make_store", "resource", "store"]
