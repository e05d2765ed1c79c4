"""alerts: the query language, the compiled matcher, and delivery through Apprise."""
