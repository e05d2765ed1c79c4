"""Delivery: the outbox, the dispatcher, digests, the ledger, rendering, and the one Apprise module."""
