"""Getting leads in: `import` (files and stdin) and `assign` (the queue)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from leadshare.cli import app
from leadshare.cli._common import (
    JsonOption, NotifyOption, Where, console, deliver_if_asked, emit, ledger_options, session, table, warn,
)
from leadshare.errors import ECHO_ITEMS, EXIT_ATTENTION, EXIT_OK, InputError, LeadshareError, echo, echo_list


def _read_input(file: str) -> tuple[bytes, str]:
    if file == "-":
        return sys.stdin.buffer.read(), "-"
    path = Path(file)
    if not path.exists():
        raise InputError(f"{file}: no such file", "check the path of the CSV")
    if path.is_dir():
        raise InputError(f"{file}: is a folder, not a CSV file", "name the CSV file inside it")
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise InputError(f"{file}: cannot read ({exc.strerror})", "check the file's permissions") from exc


def _progress():
    """A rich progress bar on stderr, only when a person is watching (never under cron). The
    rows are read as they are imported, so the bar follows the bytes read of the file."""
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("importing"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                   console=console(stderr=True), transient=True)
    task = bar.add_task("import", total=None)
    return bar, lambda done, total: bar.update(task, completed=done, total=total)


ROW_WARNINGS_SHOWN = 10
COLUMN_LINES = 50  # a 10,000-column file says how it read the first ones; --json has them all


def _say_columns(name: str, parsed) -> None:
    """One line per column: how it was read ('State/Region' -> region), so a column a rule needs
    is never ignored without a word."""
    read_as = list(parsed.read_as.items())
    for column, role in read_as[:COLUMN_LINES]:
        sys.stderr.write(f"{name}: {echo(column)} -> {role}\n")
    if len(read_as) > COLUMN_LINES:
        sys.stderr.write(f"{name}: ... and {len(read_as) - COLUMN_LINES:,} more columns (--json lists how each was read)\n")


def _as_kept(read_as: dict[str, str], keep_owner: bool) -> dict[str, str]:
    """A file's owner and status columns become the lead's own only with --keep-owner; otherwise
    they are kept as attributes, and the column lines say so."""
    if keep_owner:
        return read_as
    return {column: f"attribute {role}" if role in ("owner", "status") else role for column, role in read_as.items()}


def _warn(name: str, parsed) -> None:
    """File warnings, then the first few row warnings and a count of the rest: a million-row
    file must not bury the summary under a million lines. `parsed` (a ParsedStream or a
    ParsedFile) keeps the first few row warnings and counts them all as the rows are read."""
    for w in parsed.warnings:
        warn(f"{name}: {w}")
    shown = 0
    for row, line, w in parsed.row_warnings[:ROW_WARNINGS_SHOWN]:
        warn(f"{name} row {row} (line {line}): {w}")
        shown += 1
    total = parsed.row_warning_count
    if total > shown:
        warn(f"{name}: {total - shown} more fields kept as written, not shown here; "
             f"`leadshare export` lists every lead as stored")


@app.command("import")
@ledger_options
def import_(
    w: Where,
    file: Annotated[str, typer.Argument(metavar="FILE", help="The CSV file, or - for standard input.")],
    source: Annotated[Optional[str], typer.Option("--source", help="Source for rows that name none (e.g. facebook).")] = None,
    map_: Annotated[Optional[list[str]], typer.Option("--map", help="FIELD=COLUMN: read FIELD from COLUMN (repeatable).")] = None,
    keep_owner: Annotated[bool, typer.Option("--keep-owner", help="Keep the file's owner and status columns (moving in from another CRM).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Read a file again that was already imported (rows still deduplicate).")] = False,
    rejects: Annotated[Optional[Path], typer.Option("--rejects", help="Where rejected rows go [default FILE.rejected.csv; stderr for -].")] = None,
    notify: NotifyOption = False,
    json_: JsonOption = False,
) -> None:
    """Import leads from a CSV: clean, deduplicate, assign by the rules, in one transaction."""
    from leadshare import importer, outputs, services

    # the rejects file is checked before any work: a bad target must not cost a committed import
    to_stderr = rejects is None and file == "-"
    target = None if dry_run or to_stderr else outputs.output_file(
        rejects or Path(file).with_name(Path(file).stem + ".rejected.csv"), w.db, "--rejects")
    s = session(w, create=not dry_run)
    mapping = importer.parse_map_options(map_ or [])
    data, name = _read_input(file)
    parsed = importer.open_leads(data, name=name, region=s.team.phone_region, mapping=mapping, default_source=source,
                                 row_warnings=ROW_WARNINGS_SHOWN)
    del data  # the stream holds what it still needs (a big file is then read in a child process)

    def write_rejects() -> str | None:
        def fill(out) -> None:
            importer.write_rejects(out, parsed)

        if target is None:
            fill(sys.stderr)
            return None
        try:
            target.write(fill, encoding="utf-8-sig")  # the BOM: spreadsheets then read UTF-8 as UTF-8
        except LeadshareError as exc:
            message = exc.message.replace("nothing was written", "the rejected rows could not be kept, so nothing was imported")
            raise InputError(message, exc.hint) from None
        return str(target)

    bar, progress = _progress()
    if bar:
        bar.start()
    try:
        result = services.import_file(
            s, parsed, keep_owner=keep_owner, force=force, dry_run=dry_run, rejects_writer=write_rejects, progress=progress
        )
    finally:
        if bar:
            bar.stop()
    parsed.read_as = _as_kept(parsed.read_as, keep_owner)
    _say_columns(name, parsed)
    _warn(name, parsed)

    emit(_summary_json(result, parsed), json_, lambda: _render_summary(name, result, parsed))
    if not result.dry_run and not result.already_imported:
        deliver_if_asked(s, notify)
    raise typer.Exit(EXIT_ATTENTION if result.rejected and not result.already_imported else EXIT_OK)


def _summary_json(result, parsed) -> dict:
    """The import's counts, how each column was read, and a dry run's rejects with line and reason."""
    data = result.as_json()
    data["columns"] = parsed.read_as
    if result.dry_run:
        data["rejects"] = [{"line": r.line, "reason": r.reason} for r in parsed.rejects]
    return data


def _render_summary(name: str, result, parsed) -> None:
    out = console()

    def say(text: str) -> None:  # a sentence; cut into lines only where a terminal shows it
        out.print(text, soft_wrap=not out.is_terminal)

    if result.already_imported:
        say(f"{name}: already imported as batch {result.batch}; nothing changed (use --force to read it again)")
        return
    verb = "would import" if result.dry_run else "imported"
    say(f"{name}: {verb} {result.imported} of {result.rows} rows as batch {result.batch}: "
        f"{result.assigned} assigned, {result.queued} queued, {result.duplicates} duplicates, {result.rejected} rejected")
    if result.by_agent:
        out.print(table(None, ["agent", "new leads"], [[a, n] for a, n in sorted(result.by_agent.items())]))
    if result.kept or result.unknown_owners:
        say(f"kept {result.kept} owners from the file; assigned by the rules instead ({len(result.unknown_owners)}): "
            + echo_list(result.unknown_owners))
    if result.rejects_file:
        say(f"rejected rows and their reasons: {result.rejects_file}")
    if result.dry_run:
        _say_rejects(say, parsed.rejects)
        say("dry run: nothing was written")


def _say_rejects(say, rejects) -> None:
    """What a dry run would reject, line and reason: the first few, and how many more."""
    if rejects:
        say("would reject:")
    for r in rejects[:ECHO_ITEMS]:
        say(f"  line {r.line}: {r.reason}")
    if len(rejects) > ECHO_ITEMS:
        say(f"  ... and {len(rejects) - ECHO_ITEMS:,} more (--json lists them all)")


@app.command("assign")
@ledger_options
def assign(
    w: Where,
    notify: NotifyOption = False,
    json_: JsonOption = False,
) -> None:
    """Assign the leads waiting in the queue, oldest first (run from cron at opening time)."""
    from leadshare import services

    s = session(w)
    result = services.assign_waiting(s)
    deliver_if_asked(s, notify)
    emit(result, json_, lambda: console().print(f"assigned {result['assigned']}; still waiting {result['queued']}"))
