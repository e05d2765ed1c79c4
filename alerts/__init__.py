"""alerts: rules (query language, matcher, archive search) and delivery (outbox, Apprise)."""
