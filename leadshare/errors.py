"""The one way a problem reaches the user: a message, a hint, and the contract's exit code."""

from __future__ import annotations

# Exit codes of the command-line contract.
EXIT_OK = 0
EXIT_ATTENTION = 1  # done, but a human should look (rejected rows, verify problems, escalations)
EXIT_REFUSED = 2  # nothing was done


# What a message echoes of the user's data at most: a 50 MB cell or a 10,000-column header must
# not print 50 MB on stderr.
ECHO_CHARS = 200
ECHO_ITEMS = 20


def echo(value: str) -> str:
    """`value` quoted for a message, cut after ECHO_CHARS characters (saying how long it was)."""
    if len(value) <= ECHO_CHARS:
        return repr(value)
    return f"{value[:ECHO_CHARS]!r}... ({len(value):,} characters)"


def echo_list(items: list[str], total: int | None = None) -> str:
    """The first ECHO_ITEMS of `items`, comma-separated, and how many more there are (of `total`,
    when only the first were made)."""
    more = (len(items) if total is None else total) - ECHO_ITEMS
    return ", ".join(items[:ECHO_ITEMS]) + (f" ... and {more:,} more" if more > 0 else "")


class LeadshareError(Exception):
    """A problem the user can fix. `message` names the file, row, line or key; `hint` says how."""

    exit_code = EXIT_REFUSED

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def __reduce__(self):
        # whole, hint and all, when it crosses a process boundary (the background CSV reader)
        return _rebuild, (type(self), self.args, self.__dict__)


def _rebuild(cls: type, args: tuple, state: dict) -> LeadshareError:
    error = Exception.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class RulesError(LeadshareError):
    """The rules file is invalid. `problems` holds every (line, message) found, in file order."""

    def __init__(self, path: str, problems: list[tuple[int, str]]):
        self.path = path
        self.problems = problems
        first_line, first = problems[0]
        more = f" (+{len(problems) - 1} more; run `leadshare rules check {path}`)" if len(problems) > 1 else ""
        super().__init__(f"{path}:{first_line}: {first}{more}")

    def lines(self) -> list[str]:
        return [f"{self.path}:{line}: {message}" for line, message in self.problems]


class InputError(LeadshareError):
    """An input file (CSV) cannot be read as a whole; nothing was written."""


class NotFound(LeadshareError):
    """An unknown lead, agent, leave id or batch."""


class Refused(LeadshareError):
    """The action is not allowed as asked (guardrails, pipeline, missing note)."""


class LedgerError(LeadshareError):
    """The ledger file cannot be used: not a ledger, too new, busy, read-only, full."""
