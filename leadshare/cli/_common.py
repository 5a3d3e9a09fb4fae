"""What every command shares: where the ledger and rules are, who acts, JSON-or-table output, and
the one handler that turns a LeadshareError into one stderr line and the contract's exit code."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from typer._click.core import Context  # Typer's own copy of click, whose errors these are
from typer._click.exceptions import UsageError
from typer.core import TyperGroup
from typer.exceptions import TyperException

from leadshare.errors import EXIT_REFUSED, LeadshareError, RulesError

DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="Ledger file or postgresql:// URL [env LEADSHARE_DB; default ./leadshare.db].", show_default=False),
]
RulesOption = Annotated[
    Optional[Path],
    typer.Option("--rules", help="Rules file [env LEADSHARE_RULES; default ./rules.yaml].", show_default=False),
]
AsOption = Annotated[
    Optional[str],
    typer.Option("--as", help="Who is acting, an agent id or `system` [env LEADSHARE_AGENT].", show_default=False),
]
LeadArgument = Annotated[str, typer.Argument(metavar="LEAD", help="Lead id or external id.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout instead of a table.")]
NotifyOption = Annotated[bool, typer.Option("--notify", help="Deliver the notifications right after committing.")]


# The names of an identity that is nobody on the roster: cron jobs and scripts, said explicitly.
SYSTEM = "system"
_JSON_WANTED = "leadshare.json"  # ctx.meta key: --json was on the command line


def _debug_wanted() -> bool:
    return os.environ.get("LEADSHARE_DEBUG", "") not in ("", "0")


def _json_wanted(ctx: Context | None) -> bool:
    return bool(ctx and ctx.find_root().meta.get(_JSON_WANTED))


class LeadshareGroup(TyperGroup):
    """Accepts --debug anywhere on the line, and keeps every failure to one clear stderr line
    (and, under --json, one JSON document on stdout, so a pipeline never reads a failure as empty
    success)."""

    def parse_args(self, ctx, args):
        before_dashes = args[: args.index("--") if "--" in args else len(args)]
        if "--debug" in before_dashes:
            args = [a for a in args if a != "--debug"]
            os.environ["LEADSHARE_DEBUG"] = "1"
        ctx.meta[_JSON_WANTED] = "--json" in before_dashes
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        as_json = _json_wanted(ctx)
        try:
            return super().invoke(ctx)
        except LeadshareError as exc:
            if _debug_wanted():
                raise
            fail(exc, as_json)
        except KeyboardInterrupt:
            if _debug_wanted():
                raise
            from leadshare.ledger.store import interrupted_message

            _report(interrupted_message(), None, 130, as_json)
        except UsageError as exc:  # Typer words these itself, on stderr
            if as_json:
                hint = f"see `{exc.ctx.command_path} --help`" if exc.ctx else None
                _error_document(exc.format_message(), hint, exc.exit_code)
            raise
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except sqlite3.Error as exc:  # a damaged or unreadable ledger file, met mid-command
            if _debug_wanted():
                raise
            from leadshare.ledger.store import translate_error

            db = ctx.find_root().params.get("db") or os.environ.get("LEADSHARE_DB") or "the ledger"
            fail(translate_error(exc, str(db)), as_json)
        except Exception as exc:  # noqa: BLE001 - the last guard before a user would see a traceback
            if _debug_wanted() or isinstance(exc, TyperException):  # usage errors: Typer words them
                raise
            if type(exc).__module__.startswith("psycopg"):  # the server, met mid-command
                from leadshare.ledger.postgres.connect import query_error

                fail(query_error(exc, where(ctx).db))
            # only the type: a message could carry a customer's phone number
            _report(f"unexpected {type(exc).__name__}; nothing was changed",
                    "run again with --debug for details", EXIT_REFUSED, as_json)
        finally:
            _close_ledgers()


def _error_document(message: str, hint: str | None, exit_code: int) -> None:
    import orjson

    error = {"message": message, "hint": hint, "exit_code": exit_code}
    sys.stdout.write(orjson.dumps({"error": error}, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def _report(message: str, hint: str | None, exit_code: int, as_json: bool) -> None:
    if as_json:
        _error_document(message, hint, exit_code)
    print(f"leadshare: {terminal_safe(message + (f' ({hint})' if hint else ''), one_line=True)}", file=sys.stderr)
    raise typer.Exit(exit_code)


def fail(exc: LeadshareError, as_json: bool = False) -> None:
    if as_json:
        _error_document(exc.message, exc.hint, exc.exit_code)
    lines = exc.lines() if isinstance(exc, RulesError) else [str(exc)]
    for line in lines:
        line = terminal_safe(line, one_line=True)
        print(f"leadshare: {line}" if not isinstance(exc, RulesError) else line, file=sys.stderr)
    raise typer.Exit(exc.exit_code)


@dataclass
class Where:
    """Resolved locations: command option, then the option before the command, then env, then default."""

    db: str  # a file path or a postgresql:// URL (a Path would fold the URL's //)
    rules: Path
    actor: str | None
    ledger: Any = None  # the ledger once opened (open_ledger)

    @property
    def db_name(self) -> str:
        """The ledger as it may be printed (a URL's password masked)."""
        from leadshare.ledger import display_name

        return display_name(self.db)


def where(ctx: typer.Context, db: str | None = None, rules: Path | None = None, actor: str | None = None) -> Where:
    root = ctx.find_root().params if ctx else {}
    return Where(
        db=str(db or root.get("db") or os.environ.get("LEADSHARE_DB") or "leadshare.db"),
        rules=Path(rules or root.get("rules") or os.environ.get("LEADSHARE_RULES") or "rules.yaml"),
        actor=actor or root.get("as_") or os.environ.get("LEADSHARE_AGENT") or None,
    )


_PLACE_OPTIONS = {"db": DbOption, "rules": RulesOption, "as_": AsOption}


def ledger_options(command: Callable) -> Callable:
    """Gives a command --db, --rules and --as, and calls it with them resolved (see `where`) as its
    first argument `w`, so that no command declares and resolves them itself."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "w"]
    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        *own,
        *(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
          for name, option in _PLACE_OPTIONS.items()),
    ]

    @functools.wraps(command)
    def with_places(ctx: typer.Context, **given: Any) -> Any:
        w = where(ctx, given.pop("db"), given.pop("rules"), given.pop("as_"))
        return command(w, **given)

    with_places.__signature__ = inspect.Signature(params)  # what Typer reads the options from
    with_places.__annotations__ = {p.name: p.annotation for p in params}
    return with_places


_open_ledgers: list = []


def open_ledger(w: Where, create: bool = True):
    """The ledger at w.db. A command that only reads (create=False) creates none where there is
    none yet: a mistyped --db must not leave an empty ledger behind and report success on it.
    It warns and reads an empty ledger in memory instead, so its result is simply empty.
    On a server that names who is connected, the login decides who acts: w.actor becomes the
    login's agent (refused for a login granted none, or naming another). Opened once per `w`."""
    if w.ledger is not None:
        return w.ledger
    from leadshare.ledger import open_existing
    from leadshare.ledger import open_ledger as open_at
    from leadshare.ledger.store import Ledger

    ledger = open_at(w.db) if create else open_existing(w.db)
    if ledger is None:
        warn_no_ledger(w.db_name)
        ledger = Ledger.empty(w.db_name)
    _open_ledgers.append(ledger)
    identity = ledger.identity()
    if identity is not None:
        from leadshare.logins import acting_agent

        w.actor = acting_agent(identity, w.actor)
    w.ledger = ledger
    return ledger


def ledger_there(db: str) -> bool:
    """Whether a ledger exists at `db`; when not, one warning line for a command that reads."""
    from leadshare.ledger import display_name, ledger_exists

    if ledger_exists(db):
        return True
    warn_no_ledger(display_name(db))
    return False


def warn_no_ledger(name: str) -> None:
    warn(f"no ledger at {name} yet; nothing was created (writing commands and `leadshare init` create it)")


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


def rules_in_force(w: Where, required: bool = True, create: bool = True):
    """The rules a command runs under. A file ledger's are the rules file, read before the ledger
    is opened (a bad rules file stops before one is made); on a server the login decides whose
    (see team_in_force), so the ledger is opened first. Not `required`: None when there is no
    rules file. `create`: as open_ledger takes it."""
    from leadshare.ledger import is_url

    if is_url(w.db):
        return team_in_force(w, open_ledger(w, create), required)
    return load_team(w) if required or w.rules.exists() else None


def rules_and_ledger(w: Where, required: bool = True, create: bool = True):
    """(the rules in force, the ledger)."""
    team = rules_in_force(w, required, create)
    return team, open_ledger(w, create)


def team_in_force(w: Where, ledger, required: bool = True):
    """The local rules file, except on a shared ledger for an agent's login, or anyone without a
    local file: the rules the ledger last loaded (the owner's or a manager's), with one warning
    when an agent's local file differs."""
    identity = ledger.identity()
    loaded = None
    if identity is not None and not (identity.owner and w.rules.exists()):
        from leadshare.ledger.rules_log import latest_rules

        loaded = latest_rules(ledger)
    if loaded is None:
        return load_team(w) if required or w.rules.exists() else None
    from leadshare.rules_cache import team_from_text

    team = team_from_text(loaded.text, f"the rules in {w.db_name}")
    member = None if identity.owner else team.agent(identity.agent)
    if w.rules.exists():
        if member is not None and member.is_manager:
            return load_team(w)  # a manager's own rules are put in force when they differ
        if hashlib.sha256(w.rules.read_bytes()).hexdigest() != loaded.hash:
            print(f"leadshare: warning: {w.rules} differs from the rules in force in {w.db_name}; using the ledger's "
                  "(`leadshare rules show` prints them)", file=sys.stderr)
    return team


def reading(w: Where):
    """For commands that only read: (the rules if present, the ledger)."""
    return rules_and_ledger(w, required=False, create=False)


def session(w: Where, acting: str | None = None, create: bool = True):
    """Ledger + rules + actor + now, for a use case. `acting` names a command that changes a lead
    as a person: it needs an identity, so a forgotten --as never passes as the system's.
    create=False: a use case that only reads, which creates no ledger. Run by the owner or a
    manager under rules other than the ledger's last loaded, its first change puts them in force."""
    from leadshare import clock
    from leadshare.services import Session, load_rules_with_first_change
    from leadshare.tiers import with_earned_tiers

    rules_file = rules_in_force(w, create=create)  # on a server, the login is who acts from here
    if acting and not w.actor:
        raise LeadshareError(f"who is acting? `{acting}` changes a lead as a person",
                             "pass --as AGENT_ID or set LEADSHARE_AGENT (a script: --as system)")
    actor = acting_id(rules_file, w.actor)
    ledger = open_ledger(w, create)
    team = with_earned_tiers(rules_file, ledger.earned_tiers())
    s = Session(ledger=ledger, team=team, actor=actor, now=clock.now(team.timezone))
    load_rules_with_first_change(s)
    return s


def acting_id(team, given: str | None) -> str:
    """The roster's spelling of who acts (`--as Pau` is `pau`); no identity is the system."""
    if not given or given.strip().casefold() == SYSTEM:
        return SYSTEM
    return team.find(given.strip()).id


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


_RIGHT_ALIGNED = {"#", "id", "assigned", "expected", "share", "exp.share", "open", "open/cap", "capacity", "seq", "weight",
                  "rows", "count", "diff", "within", "in/out", "contact", "won", "lead"}
# Cut, these would say something else (a phone one digit short, 14:0 for 14:05): they keep their
# width, and the other columns wrap around them.
NEVER_CUT = {"#", "id", "seq", "lead", "phone", "at", "SLA due", "from", "to", "next on duty", "this week"}
SHORT = 10  # a column no wider than this is not worth cutting either: the long text columns wrap


def table(title: str | None, columns: list[str], rows: list[list[Any]], caption: str | None = None, tz: str | None = None,
          droppable: list[str] = ()):
    """Every table people read, made to fit the terminal: a column empty in every row is left out
    before any value is cut, then the `droppable` ones from the last (the caption names them),
    NEVER_CUT columns are never cut, and with `tz` a UTC time written inside a cell's text is shown
    on the team's wall clock like the time columns."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from leadshare import clock

    # escaped before the widths are measured, so an escaped cell is laid out whole
    cells = [["" if v is None else terminal_safe(clock.wall_clock_in_text(str(v), tz)) for v in r] for r in rows]
    widths = [max([len(name), *(len(r[i]) for r in cells)]) for i, name in enumerate(columns)]
    keep = [i for i, _ in enumerate(columns) if not cells or any(r[i] for r in cells)]
    width = console().width
    dropped = _narrowed(keep, columns, widths, droppable, width)
    if dropped:
        caption = " ".join(filter(None, [caption, f"Wider terminal or --json: {', '.join(dropped)}."]))
    whole = {i for i in keep if columns[i] in NEVER_CUT or widths[i] <= SHORT}
    if sum(widths[i] + 2 for i in whole) + 3 * (len(keep) - len(whole)) > width:
        whole = set()  # too narrow to keep them whole: every column gives way, rather than one vanishing
    t = Table(title=title, caption=caption, show_lines=False, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
              collapse_padding=True, padding=(0, 1, 0, 0), title_justify="left", caption_justify="left")
    for i in keep:
        name = columns[i]
        t.add_column(name, justify="right" if name.lower() in _RIGHT_ALIGNED else "left", no_wrap=i in whole,
                     min_width=widths[i] if i in whole else None)
    for r in cells:  # Text: a name like "[b]Ali[/b]" is data, not markup
        t.add_row(*[Text(r[i]) for i in keep])
    return t


def _narrowed(keep: list[int], columns: list[str], widths: list[int], droppable, width: int) -> list[str]:
    """Leave out droppable columns, the last first, while the table is wider than the terminal."""
    dropped: list[str] = []
    for i in sorted((i for i in keep if columns[i] in droppable), reverse=True):
        if sum(widths[k] + 2 for k in keep) <= width:
            break
        keep.remove(i)
        dropped.insert(0, columns[i])
    return dropped


def local_time(iso: str | None, tz: str | None) -> str:
    """A stored UTC timestamp as the team's wall clock, for tables."""
    from leadshare import clock

    return clock.wall_clock(iso, tz)


def deliver_if_asked(s, notify: bool) -> None:
    """`--notify`: deliver right after the use case committed; the outcome goes to stderr."""
    if notify:
        from leadshare.notify import deliver_pending

        result = deliver_pending(s.ledger, s.team, s.now, actor=s.actor)
        console(stderr=True).print(
            f"notifications: {result['delivered']} delivered, {result['failed']} failed, {result['pending']} pending"
        )
