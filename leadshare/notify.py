"""Delivering the notification outbox through the team's channel: a command, SMTP or a webhook.

Use cases put notifications in the outbox in the same transaction as their event; `deliver_pending`
sends the ones that are due. Each batch is claimed first in its own write transaction, sent outside
any transaction, and each result is recorded in another one, with a `notified` event per delivered
notification. So a run is safe to repeat, two runs at once never send the same row, and a failed
row is tried again after a growing pause (1m, 5m, 30m, 2h, then every 6h).

Delivery is at least once: a run that dies after sending but before recording sends that row again
once its claim runs out. Every message carries `notification_id`, so a receiver can drop a repeat.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson

from leadshare import __version__, clock
from leadshare.ledger import outbox
from leadshare.ledger.events import NewEvent
from leadshare.ledger.store import Ledger
from leadshare.mail import email_message
from leadshare.models import NotifyChannel, Team

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),  # and every 6 hours after that
)
TIMEOUT = 30.0  # seconds for one delivery (command run, SMTP exchange, HTTP request)
BATCH = 20  # notifications claimed at a time
LEASE_MARGIN = timedelta(minutes=5)  # a claim lasts BATCH * TIMEOUT plus this
ERROR_CHARS = 500  # longest last_error kept

SMTP_USER_ENV = "LEADSHARE_SMTP_USER"  # credentials stay out of the rules file (the ledger keeps a copy of it)
SMTP_PASSWORD_ENV = "LEADSHARE_SMTP_PASSWORD"


class DeliveryFailed(Exception):
    """This notification was not delivered; `reason` says why, in one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ChannelDown(DeliveryFailed):
    """The channel itself cannot be used (not reachable, not runnable): the rest of the run would fail
    the same way, so it stops and the remaining claimed rows are recorded with the same reason."""


@dataclass
class Outcome:
    id: int
    kind: str
    lead: int | None
    agent: str | None
    delivered: bool
    error: str | None = None
    next_try_at: str | None = None


def retry_delay(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failed attempt (1 for the first failure)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def deliver_pending(ledger: Ledger, team: Team, now: datetime, *, actor: str = "system") -> dict[str, Any]:
    """Send every due notification through `team.notify`; record each result.

    Returns `{"delivered", "failed", "pending", "channel", "next_try_at", "notifications"}`:
    `pending` counts what is still undelivered after the run (waiting for a retry, or everything when
    no channel is configured), `notifications` lists each attempt of this run.
    """
    channel = team.notify
    now_iso = clock.to_utc_iso(now)
    outcomes: list[Outcome] = []
    if channel is not None:
        sender = _sender(channel, team, now)
        try:
            while True:
                lease_until = clock.to_utc_iso(now + timedelta(seconds=BATCH * TIMEOUT) + LEASE_MARGIN)
                with ledger.write():
                    rows = outbox.claim_due(ledger, now_iso, lease_until, BATCH)
                if not rows:
                    break
                if _send_batch(ledger, sender, channel, rows, now, actor, outcomes):
                    break  # the channel is down: leave the rest for a later run
        finally:
            sender.close()
    delivered = sum(1 for o in outcomes if o.delivered)
    return {
        "delivered": delivered,
        "failed": len(outcomes) - delivered,
        "pending": outbox.pending_count(ledger),
        "channel": channel.kind if channel else None,
        "next_try_at": outbox.next_try(ledger),
        "notifications": [asdict(o) for o in outcomes],
    }


def _send_batch(ledger: Ledger, sender: "_Sender", channel: NotifyChannel, rows: list[dict], now: datetime,
                actor: str, outcomes: list[Outcome]) -> bool:
    """Send and record one claimed batch; True when the channel went down on the way."""
    down: str | None = None
    done = 0
    try:
        for row in rows:
            error = down
            if down is None:
                try:
                    if row["payload"] is None or not isinstance(row["payload"], dict):
                        raise DeliveryFailed(f"notification {row['id']} is not stored as a JSON object; it cannot be sent")
                    sender.send(row, message(row))
                except ChannelDown as exc:
                    down = error = _one_line(exc.reason)
                except DeliveryFailed as exc:
                    error = _one_line(exc.reason)
            outcomes.append(_record(ledger, row, error, now, channel.kind, actor))
            done += 1
    except BaseException:
        # Interrupted: give back the rows not tried, so the next run need not wait for the claim to end.
        rest = rows[done + 1:]
        if rest:
            with ledger.write():
                outbox.release(ledger, rest)
        raise
    return down is not None


def _record(ledger: Ledger, row: dict, error: str | None, now: datetime, channel: str, actor: str) -> Outcome:
    at = clock.to_utc_iso(now)
    outcome = Outcome(id=row["id"], kind=row["kind"], lead=row["lead"], agent=row["agent"], delivered=error is None,
                      error=error)
    with ledger.write():
        if error is None:
            if outbox.record_delivered(ledger, row["id"], at):
                ledger.append(
                    [NewEvent("notified", lead=row["lead"], agent=row["agent"],
                              data={"outbox": row["id"], "kind": row["kind"], "channel": channel})],
                    at=at, actor=actor,
                )
        else:
            outcome.next_try_at = clock.to_utc_iso(now + retry_delay(row["attempts"] + 1))
            outbox.record_failed(ledger, row["id"], row["claim"], error, outcome.next_try_at)
    return outcome


def message(row: dict) -> dict[str, Any]:
    """The JSON notification a command or webhook receives: the stored payload plus its outbox id."""
    out = dict(row["payload"])
    out.setdefault("kind", row["kind"])
    out.setdefault("lead", row["lead"])
    out.setdefault("agent", row["agent"])
    out["notification_id"] = row["id"]
    out.setdefault("created_at", row["created_at"])
    return out


def _one_line(text: str) -> str:
    """Whitespace collapsed, at most ERROR_CHARS (the end kept: that is where errors say what broke)."""
    flat = " ".join(str(text).split())
    if len(flat) > ERROR_CHARS:
        flat = "…" + flat[-(ERROR_CHARS - 1):]
    return flat or "failed without a message"


def _seconds(value: float) -> str:
    return f"{value:g}s"


# --------------------------------------------------------------------------- channels


class _Sender:
    def send(self, row: dict, msg: dict) -> None:  # raises DeliveryFailed
        raise NotImplementedError

    def close(self) -> None:
        pass


def _sender(channel: NotifyChannel, team: Team, now: datetime) -> _Sender:
    if channel.kind == "command":
        return _Command(channel, team)
    if channel.kind == "smtp":
        return _Smtp(channel, team, now)
    if channel.kind == "webhook":
        return _Webhook(channel)
    raise ValueError(f"unknown notify channel {channel.kind!r}")


class _Command(_Sender):
    """Runs `notify.command` with one JSON notification on stdin, in the rules file's folder."""

    def __init__(self, channel: NotifyChannel, team: Team):
        assert channel.command
        self.path = channel.command
        self.cwd = os.path.dirname(os.path.abspath(team.path)) if team.path else None
        # Rules read out of a shared ledger were written by someone else (a manager's login):
        # their command must not run on the machine of whoever happens to read them.
        self.from_local_file = bool(team.path) and os.path.isfile(team.path)

    def send(self, row: dict, msg: dict) -> None:
        if not self.from_local_file:
            raise ChannelDown(f"notify.command {self.path} comes from the rules in the ledger, not a rules file on "
                              "this machine, so it is not run here; deliver from where the rules file is "
                              "(`leadshare --rules PATH notify`, the owner's cron)")
        data = orjson.dumps(msg, option=orjson.OPT_SORT_KEYS) + b"\n"
        try:
            proc = subprocess.Popen(
                [self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd, start_new_session=True,  # its own process group, so a timeout kills it all
            )
        except FileNotFoundError:
            raise ChannelDown(f"notify.command {self.path} not found; fix the path in the rules file "
                              f"(it is relative to the rules file's folder)") from None
        except PermissionError:
            raise ChannelDown(f"notify.command {self.path} cannot be run: permission denied; make it executable "
                              f"(chmod +x) and give it a #! line") from None
        except OSError as exc:
            raise ChannelDown(f"notify.command {self.path} cannot be run: {exc.strerror or exc}") from None
        timeout = TIMEOUT
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise DeliveryFailed(f"notify.command timed out after {_seconds(timeout)} and was stopped") from None
        if proc.returncode == 0:
            return
        text = err.decode("utf-8", "replace").strip() or out.decode("utf-8", "replace").strip()
        if proc.returncode < 0:
            status = f"killed by signal {-proc.returncode}"
        else:
            status = f"exit status {proc.returncode}"
        raise DeliveryFailed(f"{status}: {text}" if text else status)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a grandchild left its own group and kept the pipes open
        pass


class _Smtp(_Sender):
    """Mails each notification to the agent's `email` from the roster; one connection per run."""

    def __init__(self, channel: NotifyChannel, team: Team, now: datetime):
        self.channel = channel
        self.team = team
        self.now = now
        self.conn = None
        self.where = f"smtp {channel.smtp_host}:{channel.smtp_port}"

    def _connect(self):
        import smtplib
        import ssl

        c = self.channel
        try:
            if c.smtp_port == 465 and not c.smtp_starttls:
                conn = smtplib.SMTP_SSL(c.smtp_host, c.smtp_port, timeout=TIMEOUT, context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=TIMEOUT)
            try:
                conn.ehlo_or_helo_if_needed()
                if c.smtp_starttls:
                    conn.starttls(context=ssl.create_default_context())
                    conn.ehlo()
                user = os.environ.get(SMTP_USER_ENV)
                if user:
                    conn.login(user, os.environ.get(SMTP_PASSWORD_ENV, ""))
            except BaseException:
                conn.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise ChannelDown(f"{self.where}: login refused ({exc.smtp_code}); check {SMTP_USER_ENV} and "
                              f"{SMTP_PASSWORD_ENV}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelDown(f"{self.where}: {str(exc).rstrip('.')}; set starttls to match the server") from None
        except smtplib.SMTPResponseException as exc:
            raise ChannelDown(f"{self.where}: {exc.smtp_code} {_decode(exc.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ChannelDown(f"{self.where}: cannot connect ({_reason(exc)})") from None
        return conn

    def send(self, row: dict, msg: dict) -> None:
        import smtplib

        to = self._address(row, msg)
        mail = email_message(msg, self.team, self.channel.smtp_from or "", to, self.now)
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                refused = self.conn.send_message(mail, from_addr=self.channel.smtp_from, to_addrs=[to])
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                if attempt == 1:  # the server may close a connection it thinks idle: once more, afresh
                    continue
                raise ChannelDown(f"{self.where}: the server closed the connection ({_reason(exc)})") from None
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()), (0, b""))
                raise DeliveryFailed(f"{self.where} refused the recipient {to}: {code} {_decode(text)}") from None
            except smtplib.SMTPSenderRefused as exc:
                raise ChannelDown(f"{self.where} refused the sender {self.channel.smtp_from}: {exc.smtp_code} "
                                  f"{_decode(exc.smtp_error)}") from None
            except smtplib.SMTPResponseException as exc:
                self._reset()
                raise DeliveryFailed(f"{self.where}: {exc.smtp_code} {_decode(exc.smtp_error)}") from None
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                raise ChannelDown(f"{self.where}: {_reason(exc)}") from None
            if refused:
                raise DeliveryFailed(f"{self.where} refused the recipient {to}")
            return

    def _address(self, row: dict, msg: dict) -> str:
        agent_id = row["agent"]
        agent = self.team.agent(agent_id) if agent_id else None
        if agent is not None and agent.email:
            return agent.email
        if agent is None and msg.get("to_email"):
            return str(msg["to_email"])  # no longer in the roster: the address it had when notified
        if agent_id is None:
            raise DeliveryFailed(f"notification {row['id']} names no agent to mail")
        raise DeliveryFailed(f"agent {agent_id} has no email address; add `email:` to {agent_id} in the rules file")

    def _reset(self) -> None:
        try:
            self.conn.rset()
        except Exception:  # noqa: BLE001 - a broken connection is simply opened again
            self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except Exception:  # noqa: BLE001 - the messages are already accepted
                pass
            self._drop()


def _decode(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {_seconds(TIMEOUT)}"
    text = getattr(exc, "strerror", None) or str(exc)
    return text or type(exc).__name__


class _Webhook(_Sender):
    """POSTs the JSON notification; any 2xx answer is delivered. Redirects are not followed."""

    def __init__(self, channel: NotifyChannel):
        import urllib.request

        assert channel.url
        self.url = channel.url
        parts = urlsplit(channel.url)
        self.where = f"webhook {parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never the path: it may hold a token

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(NoRedirect)

    def send(self, row: dict, msg: dict) -> None:
        import http.client
        import urllib.error
        import urllib.request

        body = orjson.dumps(msg, option=orjson.OPT_SORT_KEYS)
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": f"leadshare/{__version__}"},
        )
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                response.read(65536)
                status = response.status
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                raise DeliveryFailed(f"{self.where} answered HTTP {exc.code} (a redirect); point notify.webhook at "
                                     f"the final address") from None
            try:
                detail = exc.read(300).decode("utf-8", "replace").strip()
            except Exception:  # noqa: BLE001
                detail = ""
            reason = f"{self.where} answered HTTP {exc.code} {exc.reason}"
            raise DeliveryFailed(f"{reason}: {detail}" if detail else reason) from None
        except urllib.error.URLError as exc:
            raise ChannelDown(f"{self.where}: cannot connect ({_reason(exc.reason) if isinstance(exc.reason, BaseException) else exc.reason})") from None
        except http.client.HTTPException as exc:
            raise DeliveryFailed(f"{self.where}: bad answer ({type(exc).__name__})") from None
        except OSError as exc:
            raise ChannelDown(f"{self.where}: {_reason(exc)}") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(f"{self.where} answered HTTP {status}")
