"""The base every stage may import: configuration, database, migrations, errors, logging,
redaction. It imports no stage (crawler, alerts) and nothing of the shell."""
