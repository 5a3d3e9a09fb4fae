"""What every command shares: where the ledger and rules are, who acts, JSON-or-table output, and
the one handler that turns a LeadshareError into one stderr line and the contract's exit code."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from leadshare.errors import EXIT_REFUSED, LeadshareError, RulesError

DbOption = Annotated[
    Optional[Path], typer.Option("--db", help="Ledger file [env LEADSHARE_DB; default ./leadshare.db].", show_default=False)
]
RulesOption = Annotated[
    Optional[Path],
    typer.Option("--rules", help="Rules file [env LEADSHARE_RULES; default ./rules.yaml].", show_default=False),
]
AsOption = Annotated[
    Optional[str], typer.Option("--as", help="Who is acting [env LEADSHARE_AGENT; default: system].", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout instead of a table.")]
NotifyOption = Annotated[bool, typer.Option("--notify", help="Deliver the notifications right after committing.")]


def _debug_wanted() -> bool:
    return os.environ.get("LEADSHARE_DEBUG", "") not in ("", "0")


class LeadshareGroup(TyperGroup):
    """Accepts --debug anywhere on the line, and keeps every failure to one clear stderr line."""

    def parse_args(self, ctx, args):
        if "--debug" in args[: args.index("--") if "--" in args else len(args)]:
            args = [a for a in args if a != "--debug"]
            os.environ["LEADSHARE_DEBUG"] = "1"
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LeadshareError as exc:
            if _debug_wanted():
                raise
            fail(exc)
        except KeyboardInterrupt:
            if _debug_wanted():
                raise
            from leadshare.ledger.store import interrupted_message

            print(f"leadshare: {interrupted_message()}", file=sys.stderr)
            raise typer.Exit(130)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except sqlite3.Error as exc:  # a damaged or unreadable ledger file, met mid-command
            if _debug_wanted():
                raise
            from leadshare.ledger.store import translate_error

            db = ctx.find_root().params.get("db") or os.environ.get("LEADSHARE_DB") or "the ledger"
            fail(translate_error(exc, str(db)))
        except Exception as exc:  # noqa: BLE001 - the last guard before a user would see a traceback
            if _debug_wanted() or isinstance(exc, TyperException):  # usage errors: Typer words them
                raise
            # only the type: a message could carry a customer's phone number
            print(
                f"leadshare: unexpected {type(exc).__name__}; nothing was changed. Run again with --debug for details.",
                file=sys.stderr,
            )
            raise typer.Exit(EXIT_REFUSED)
        finally:
            _close_ledgers()


def fail(exc: LeadshareError) -> None:
    lines = exc.lines() if isinstance(exc, RulesError) else [str(exc)]
    for line in lines:
        line = terminal_safe(line, one_line=True)
        print(f"leadshare: {line}" if not isinstance(exc, RulesError) else line, file=sys.stderr)
    raise typer.Exit(exc.exit_code)


@dataclass
class Where:
    """Resolved locations: command option, then the option before the command, then env, then default."""

    db: Path
    rules: Path
    actor: str | None


def where(ctx: typer.Context, db: Path | None = None, rules: Path | None = None, actor: str | None = None) -> Where:
    root = ctx.find_root().params if ctx else {}
    return Where(
        db=Path(db or root.get("db") or os.environ.get("LEADSHARE_DB") or "leadshare.db"),
        rules=Path(rules or root.get("rules") or os.environ.get("LEADSHARE_RULES") or "rules.yaml"),
        actor=actor or root.get("as_") or os.environ.get("LEADSHARE_AGENT") or None,
    )


_open_ledgers: list = []


def open_ledger(w: Where, create: bool = True):
    """The ledger at w.db. A command that only reads (create=False) creates none where there is
    none yet: a mistyped --db must not leave an empty ledger behind and report success on it.
    It warns and reads an empty ledger in memory instead, so its result is simply empty."""
    from leadshare.ledger.store import Ledger

    if not create and not ledger_there(w.db):
        ledger = Ledger.empty(w.db)
    else:
        ledger = Ledger.open(w.db)
    _open_ledgers.append(ledger)
    return ledger


def ledger_there(path: Path) -> bool:
    """Whether a ledger exists at `path`; when not, one warning line for a command that reads."""
    from leadshare.ledger.store import Ledger

    if Ledger.exists(path):
        return True
    warn(f"no ledger at {path} yet; nothing was created (writing commands and `leadshare init` create it)")
    return False


def warn(message: str) -> None:
    print(f"warning: {terminal_safe(message, one_line=True)}", file=sys.stderr)


def _close_ledgers() -> None:
    # Closed when the command ends, not whenever the garbage collector gets to them: the last
    # connection to close checkpoints the WAL, and that belongs to this command.
    while _open_ledgers:
        with contextlib.suppress(Exception):
            _open_ledgers.pop().close()


def load_team(w: Where):
    from leadshare.rules_cache import load_team as load

    if not w.rules.exists():
        from leadshare.errors import LeadshareError

        raise LeadshareError(
            f"{w.rules}: rules file not found",
            "pass --rules PATH, set LEADSHARE_RULES, or copy rules.example.yaml to rules.yaml",
        )
    return load(w.rules)


def optional_team(w: Where):
    """The rules when the file is there: reading the ledger does not need them, but they name time zones."""
    return load_team(w) if w.rules.exists() else None


def reading(ctx: typer.Context, db: Path | None, rules: Path | None, actor: str | None):
    """For commands that only read: (where, the rules if present, the ledger)."""
    w = where(ctx, db, rules, actor)
    team = optional_team(w)
    return w, team, open_ledger(w, create=False)


def session(w: Where, need_agent: bool = False, create: bool = True):
    """Ledger + rules + actor + now, for a use case (create=False: one that only reads)."""
    from leadshare import clock
    from leadshare.services import Session, find_agent

    from leadshare.tiers import with_earned_tiers

    rules_file = load_team(w)  # a bad rules file stops here, before the ledger is touched
    ledger = open_ledger(w, create)
    team = with_earned_tiers(rules_file, ledger.earned_tiers())
    actor = w.actor or "system"
    if w.actor:
        find_agent(team, w.actor)
    elif need_agent:
        raise LeadshareError("this command needs to know who you are", "pass --as AGENT_ID or set LEADSHARE_AGENT")
    return Session(ledger=ledger, team=team, actor=actor, now=clock.now(team.timezone))


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """JSON on stdout and nothing else, or the people's view."""
    if as_json:
        import orjson

        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render()


# Control characters from the data (C0 and C1, DEL): an ESC or OSC sequence in a name or note
# would otherwise drive the reader's terminal (set its title, write its clipboard, hide text).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_safe(text: str, one_line: bool = False) -> str:
    """Text as it may reach a terminal: every control character shown escaped (`\\x1b`); newline
    and tab pass unless the text must stay `one_line` (an error or warning line)."""
    pattern = _CONTROL_OR_BREAK if one_line else CONTROL
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def console(stderr: bool = False):
    """The people's view: everything it prints passes terminal_safe() (see _terminal.py)."""
    from leadshare.cli._terminal import SafeConsole

    # no markup: customer and agent names like "[b]Ali[/b]" must print as written
    return SafeConsole(stderr=stderr, highlight=False, markup=False)


def table(title: str | None, columns: list[str], rows: list[list[Any]], caption: str | None = None):
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, caption=caption, show_lines=False, header_style="bold")
    for c in columns:
        justify = "right" if c.lower() in {"#", "id", "assigned", "expected", "share", "open", "capacity", "seq", "weight", "rows", "count", "diff"} else "left"
        t.add_column(c, justify=justify)
    for r in rows:
        t.add_row(*[Text("" if v is None else str(v)) for v in r])
    return t


def local_time(iso: str | None, tz: str | None) -> str:
    """A stored UTC timestamp as the team's wall clock, for tables."""
    if not iso:
        return ""
    from leadshare import clock

    dt = clock.from_iso(iso)
    if tz:
        dt = dt.astimezone(clock.zone(tz))
    return dt.strftime("%Y-%m-%d %H:%M")


def deliver_if_asked(s, notify: bool) -> None:
    """`--notify`: deliver right after the use case committed; the outcome goes to stderr."""
    if notify:
        from leadshare.notify import deliver_pending

        result = deliver_pending(s.ledger, s.team, s.now, actor=s.actor)
        console(stderr=True).print(
            f"notifications: {result['delivered']} delivered, {result['failed']} failed, {result['pending']} pending"
        )
