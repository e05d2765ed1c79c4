"""newswatch: the application shell (CLI, configuration, database models, the service)."""

__version__ = "0.1.0"
