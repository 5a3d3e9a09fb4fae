"""`rules check`: validate a rules file before it decides anything; `rules show`: the rules in force."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import DbOption, JsonOption, RulesOption, Where, console, emit, ledger_options, open_ledger, terminal_safe, where
from leadshare.errors import EXIT_ATTENTION, EXIT_REFUSED, LeadshareError

rules_app = typer.Typer(help="The rules file, and the rules in force.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


# After the problems, not among them: each problem line stays `FILE:LINE: message` for editors.
RULES_HINT = "hint: every key and the values it takes are described in docs/rules.md (leadshare's rules reference)"


@rules_app.command("check")
def check(
    ctx: typer.Context,
    path: Annotated[Optional[Path], typer.Argument(metavar="[PATH]", help="The rules file [default: --rules, LEADSHARE_RULES or ./rules.yaml].")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when there are warnings (gaps), not only errors.")] = False,
    rules: RulesOption = None,
    db: DbOption = None,
) -> None:
    """Validate a rules file and warn about gaps: every problem as FILE:LINE: message on stderr.

    When a ledger exists at --db, also warn about rules that test a field no lead in it has.
    Exit 2 on errors; with no errors, warnings exit 0 (1 with --strict)."""
    from leadshare.config import check_rules, lint_fields, lint_team, load_team

    w = where(ctx, db=db, rules=rules)
    target = path or w.rules
    problems = check_rules(target)
    for line, message in problems:
        typer.echo(terminal_safe(f"{target}:{line}: {message}", one_line=True), err=True)
    if problems:
        typer.echo(RULES_HINT, err=True)
        raise typer.Exit(EXIT_REFUSED)
    team = load_team(target)
    warnings = lint_team(team)
    lead_fields = _lead_fields(w.db)
    if lead_fields is not None:
        warnings = sorted(warnings + lint_fields(team, lead_fields), key=lambda problem: problem[0])
    for line, message in warnings:
        typer.echo(terminal_safe(f"{target}:{line}: warning: {message}", one_line=True), err=True)
    team_ok = f"{target}: ok" + (f", {len(warnings)} warning{'s' if len(warnings) > 1 else ''}" if warnings else "")
    console().print(team_ok)
    if warnings and strict:
        raise typer.Exit(EXIT_ATTENTION)


def _lead_fields(db: str) -> set[str] | None:
    """The fields the leads in the ledger at `db` have; None when there is no ledger (none is made
    by checking) or it holds no lead yet."""
    from leadshare.errors import LeadshareError
    from leadshare.ledger import open_readonly
    from leadshare.ledger.store import Ledger, translate_error

    try:
        ledger = open_readonly(db)
        if ledger is None:
            return None
        try:
            return None if ledger.has_no_leads() else ledger.lead_field_names()
        finally:
            ledger.close()
    except (Ledger.DatabaseError, LeadshareError) as exc:  # the rules are still checked; only the comparison is lost
        problem = exc.message if isinstance(exc, LeadshareError) else translate_error(exc, db).message
        typer.echo(f"leadshare: warning: {problem}; the rules' fields were not compared with its leads", err=True)
        return None


@rules_app.command("show")
@ledger_options
def show(w: Where, json_: JsonOption = False) -> None:
    """Print the rules in force: the ledger's last loaded rules, else the local rules file.

    The YAML goes to stdout as it was written (`leadshare rules show > rules.yaml` restores it);
    where it came from goes to stderr."""
    from leadshare.config.reading import read_rules_file
    from leadshare.ledger import ledger_exists
    from leadshare.ledger.rules_log import latest_rules

    loaded = latest_rules(open_ledger(w, create=False)) if ledger_exists(w.db) else None
    if loaded is not None:
        out = {"source": "ledger", "version": loaded.hash, "path": loaded.path, "loaded_at": loaded.at,
               "seq": loaded.seq, "text": loaded.text}
        origin = f"rules in force: loaded into {w.db_name} at {loaded.at} (event {loaded.seq}) from {loaded.path}"
    elif w.rules.exists():
        text = read_rules_file(str(w.rules))
        version = hashlib.sha256(text.encode("utf-8")).hexdigest()
        out = {"source": "file", "version": version, "path": str(w.rules), "loaded_at": None, "seq": None, "text": text}
        origin = f"rules in force: the file {w.rules} (the ledger holds none yet)"
    else:
        raise LeadshareError(f"no rules in force: {w.db_name} holds none and {w.rules} does not exist",
                             "pass --rules PATH, set LEADSHARE_RULES, or copy rules.example.yaml to rules.yaml")

    def render() -> None:
        typer.echo(origin, err=True)
        typer.echo(out["text"], nl=not out["text"].endswith("\n"))

    emit(out, json_, render)
