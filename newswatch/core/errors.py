"""Errors a person can act on.

A `UserError` is printed as one line on stderr and ends the command with status 2; anything
else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input (config, rule, file, argument): one line, exit 2."""

    exit_code = 2


class ConfigError(UserError):
    """A configuration problem, located as precisely as we can: file, entry, field."""

    def __init__(
        self,
        file: str,
        message: str,
        entry: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file, self.entry, self.field, self.line = file, entry, field, line
        where = file if line is None else f"{file}:{line}"
        parts = [where]
        if entry:
            parts.append(entry)
        if field:
            parts.append(f"field '{field}'")
        self.message = message
        super().__init__(": ".join(parts) + ": " + message)


class ConfigProblems(ConfigError):
    """Every problem found in one configuration, one line each (the first one's location)."""

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = problems
        first = problems[0]
        self.file, self.entry, self.field, self.line, self.message = (
            first.file,
            first.entry,
            first.field,
            first.line,
            first.message,
        )
        UserError.__init__(self, "\n".join(str(problem) for problem in problems))
