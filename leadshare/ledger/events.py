"""The audit log: append-only, each event chained to the one before by sha256.

hash(n) = sha256(hash(n-1) || canonical([seq, at, actor, type, lead, agent, data])), with 32 zero
bytes before the first event. `data` is canonical JSON (sorted keys, no spaces), so the same
event always hashes the same on any machine. An event written on PostgreSQL also names the login
that wrote it (the server refuses any other): then `login` ends the list, so the chain covers it,
while an event without one (SQLite's, or PostgreSQL's before logins) hashes as it always did and a
ledger copied either way keeps its head.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, NamedTuple

import orjson

GENESIS = bytes(32)


def canonical(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def digest(obj: Any) -> bytes:
    return hashlib.sha256(canonical(obj)).digest()


def link(prev: bytes, seq: int, at: str, actor: str, type_: str, lead: int | None, agent: str | None, data: str,
         login: str | None = None) -> bytes:
    if login is None:
        return _sha256(prev + _dumps([seq, at, actor, type_, lead, agent, data])).digest()
    return _sha256(prev + _dumps([seq, at, actor, type_, lead, agent, data, login])).digest()


_sha256, _dumps = hashlib.sha256, orjson.dumps  # link() runs once per event: a million for an import


class NewEvent(NamedTuple):
    """An event about to be appended (a tuple: an import makes a million of them)."""

    type: str
    lead: int | None = None
    agent: str | None = None
    data: dict | str | None = None  # a str is the data's canonical JSON already


def head(conn) -> tuple[int, bytes]:
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


COLUMNS = ("seq", "at", "actor", "type", "lead", "agent", "data", "hash")
SIGNED_COLUMNS = (*COLUMNS, "login")


def chained(seq: int, prev: bytes, events: Iterable[NewEvent], at: str, actor: str, login: str | None = None) -> list[tuple]:
    """The events as rows of the events table (SIGNED_COLUMNS when written under a login, else
    COLUMNS), each linked to the one before, after event `seq` whose hash is `prev`."""
    rows = []
    add = rows.append
    for type_, lead, agent, data in events:  # NewEvents, or plain tuples of their fields
        seq += 1
        if type(data) is not str:
            data = canonical(data or {}).decode()
        prev = link(prev, seq, at, actor, type_, lead, agent, data, login)
        add((seq, at, actor, type_, lead, agent, data, prev) if login is None else (seq, at, actor, type_, lead, agent, data, prev, login))
    return rows


class Chain:
    """The chain recomputed over (seq, at, actor, type, lead, agent, data, hash, login) rows fed in seq
    order, one at a time (so `verify` reads the log once for the chain and the replay).

    Checking stops at the first break: every later hash depends on it, so the first bad seq is
    the one worth naming. `head` is the last hash recomputed before it."""

    __slots__ = ("events", "problems", "head", "_next")

    def __init__(self) -> None:
        self.events, self.problems, self.head, self._next = 0, [], GENESIS, 1

    def link(self, row: tuple) -> None:
        self.events += 1
        if self.problems:
            return
        seq, at, actor, type_, lead, agent, data, stored, login = row
        if seq != self._next:
            self.problems = [f"event {self._next}: missing (the log jumps to {seq}); events were deleted"]
            return
        self.head = link(self.head, seq, at, actor, type_, lead, agent, data, login)
        if self.head != stored:
            self.problems = [f"event {seq}: hash does not match its content or the chain before it"]
            return
        self._next += 1
