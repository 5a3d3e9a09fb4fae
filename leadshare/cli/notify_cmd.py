"""`notify`: deliver the pending notifications through the channel of the rules file."""

from __future__ import annotations

import sys

import typer

from leadshare.cli import app
from leadshare.cli._common import JsonOption, Where, console, emit, ledger_options, local_time, session, table
from leadshare.errors import EXIT_ATTENTION, EXIT_OK


@app.command("notify")
@ledger_options
def notify(
    w: Where,
    json_: JsonOption = False,
) -> None:
    """Deliver pending notifications through the configured channel (command, smtp or webhook); failures are retried later."""
    from leadshare import notify as delivery

    s = session(w)
    result = delivery.deliver_pending(s.ledger, s.team, s.now, actor=s.actor)
    tz = s.team.timezone

    def retry_text(at: str | None) -> str:
        return f"retry after {local_time(at, tz)}" if at else ""

    if json_:
        err = console(stderr=True)
        if result["channel"] is None and result["pending"]:
            err.print(f"warning: no notify channel in {w.rules}; {result['pending']} notifications are waiting "
                      f"(add notify: with command, smtp or webhook)")
        for n in result["notifications"]:
            if not n["delivered"]:
                err.print(f"warning: notification {n['id']} ({n['kind']}, lead {n['lead']}, agent {n['agent']}) "
                          f"not delivered: {n['error']}; {retry_text(n['next_try_at'])}")

    def render() -> None:
        out = console()
        if result["channel"] is None:
            if result["pending"]:
                out.print(f"no notify channel in {w.rules}: {result['pending']} notifications are waiting. "
                          f"Add `notify:` with command, smtp or webhook to the rules file to send them.")
            else:
                out.print(f"no notify channel in {w.rules}, and nothing is waiting.")
            return
        rows = [
            [n["id"], n["kind"], n["lead"], n["agent"],
             "delivered" if n["delivered"] else f"failed: {n['error']} ({retry_text(n['next_try_at'])})"]
            for n in result["notifications"]
        ]
        if rows:
            out.print(table(f"notifications sent by {result['channel']}", ["#", "kind", "lead", "agent", "result"], rows))
        summary = f"delivered {result['delivered']}, failed {result['failed']}"
        if not rows:
            summary = "nothing due to send"
        if result["pending"]:
            summary += f"; {result['pending']} still pending"
            if result["next_try_at"]:
                summary += f" (next try at {local_time(result['next_try_at'], tz)})"
        out.print(summary)

    emit(result, json_, render)
    sys.stdout.flush()
    raise typer.Exit(EXIT_ATTENTION if result["failed"] else EXIT_OK)
