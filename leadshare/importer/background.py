"""Reading a big file in forked child processes while the caller works on the records already
read: one child, or two sharing the pieces of the file; the same records, rejects and warnings as
reading it here, handed over through pipes in file order."""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from leadshare.bulk import can_fork, fork, portable
from leadshare.errors import InputError
from leadshare.importer.records import LeadRecord, Prepare

if TYPE_CHECKING:
    from leadshare.importer.stream import ParsedStream

# From this many rows a ParsedStream read in the background uses a child process (below it the
# fork costs more than it saves), sending the records this many at a time so the first arrive soon.
BACKGROUND_ROWS = 20_000
BACKGROUND_PIECE = 4_096
BACKGROUND_AHEAD = 8  # pieces read ahead of the records being worked on (~6 MB)
# From this many rows two children share the reading (see _start_children), below the process
# that decides and writes in priority: with two CPUs, it is the one that must never wait.
TWO_READERS_ROWS = 100_000
SHARED_READER_NICE = 10
# What a piece from the reading process holds: records (plain values, so marshal: a quarter of
# pickle's cost to write), or anything else (the end, an error) pickled.
_RECORDS, _OTHER = b"m", b"p"


def read_in_children(stream: ParsedStream, reading: list, size: int, prepare: Prepare | None) -> Iterator | None:
    """The stream's chunks as read by children, or None when they are read here after all (a
    small file, no fork, no process to spare): then `reading` still holds the rows."""
    if stream.estimated_rows < BACKGROUND_ROWS or not can_fork():
        return None
    try:
        children = _start_children(stream, reading, min(size, BACKGROUND_PIECE), prepare)
    except OSError:  # no process to spare (a limit on processes): read them here
        return None
    return _from_children(stream, children, prepare)


def _start_children(stream: ParsedStream, reading: list, size: int, prepare: Prepare | None) -> list[tuple]:
    """From TWO_READERS_ROWS rows two children share the reading: each parses the whole file
    (the cheap part) and normalises and prepares every other piece of it; below, one reads
    it all."""
    readers = 2 if stream.estimated_rows >= TWO_READERS_ROWS else 1
    children: list[tuple] = []
    try:
        for k in range(readers):
            name = f"reading {stream.name}" + (f" ({k + 1} of {readers})" if readers > 1 else "")
            children.append(fork(_produce, stream, reading, size, prepare, (k, readers), name=name))
    except OSError:
        _end(children)
        raise
    reading.clear()  # the file's bytes and the CSV reader live on in the children only
    return children


def _from_children(stream: ParsedStream, children: list[tuple], prepare: Prepare | None) -> Iterator:
    # A thread per child takes its pieces off the pipe as they come, so the children keep
    # reading while this process is busy writing a chunk (a pipe holds less than one piece).
    pipes = []
    for _, receiver in children:
        ahead: queue.Queue = queue.Queue(maxsize=BACKGROUND_AHEAD)
        thread = threading.Thread(target=_take_off_the_pipe, args=(receiver, ahead),
                                  name="leadshare: records ahead", daemon=True)
        thread.start()
        pipes.append((thread, ahead))
    read = [0]
    stream.reading_from(lambda: read[0])
    try:
        turn, ends = 0, []
        while not ends:  # the pieces in file order: the children's in turn
            kind, payload, position = _next_piece(stream, pipes[turn % len(pipes)][1])
            if kind == "records":
                read[0] = position
                turn += 1
                if payload:
                    yield [LeadRecord(*r) for r in payload] if prepare is None else payload
            else:  # one child read to the end of the file, so did the others: their ends come next
                ends.append(payload)
        for k in range(1, len(pipes)):
            while len(ends) <= k:
                kind, payload, _ = _next_piece(stream, pipes[(turn + k) % len(pipes)][1])
                if kind != "records":
                    ends.append(payload)
        stream.gather(ends)
    finally:
        _end(children, pipes)


def _next_piece(stream: ParsedStream, ahead: queue.Queue) -> tuple[str, Any, int]:
    piece = ahead.get()
    if piece is None:
        raise InputError(f"{stream.name}: the process reading it ended early",
                         "run the import again; if it happens again, run it with --debug")
    if piece[:1] == _RECORDS:
        payload, position = marshal.loads(memoryview(piece)[1:])
        return "records", payload, position
    kind, payload = pickle.loads(memoryview(piece)[1:])
    if kind == "error":
        raise payload
    return kind, payload, 0


def _produce(sender, stream: ParsedStream, reading: list, size: int, prepare: Prepare | None,
             share: tuple[int, int]) -> None:
    """In a child: read this reader's share of the pieces and send them, then what the rows told."""
    rows: Callable[..., Iterator[list[LeadRecord]]] = reading.pop()
    if share[1] > 1:
        os.nice(SHARED_READER_NICE)
    try:
        for part in rows(size, share):
            # plain tuples: a third of the cost of pickling the records themselves
            payload = prepare(part) if prepare is not None else [
                (r.row, r.line, r.external_id, r.name, r.phone, r.phone_usable, r.email, r.email_usable, r.source,
                 r.region, r.attrs, r.warnings, r.more_phones, r.more_emails) for r in part]
            sender.send_bytes(_RECORDS + marshal.dumps((payload, stream.position()[0])))
        sender.send_bytes(_OTHER + pickle.dumps(("end", stream.gathered())))
    except (BrokenPipeError, EOFError):
        pass  # the parent stopped reading (an error, Ctrl-C, or it was killed)
    except BaseException as exc:
        with contextlib.suppress(BrokenPipeError):
            sender.send_bytes(_OTHER + pickle.dumps(("error", portable(exc))))


def _take_off_the_pipe(receiver, ahead: queue.Queue) -> None:
    try:
        while True:
            ahead.put(receiver.recv_bytes())
    except (EOFError, OSError):
        ahead.put(None)


def _end(children: list[tuple], pipes: list[tuple] = ()) -> None:
    """Stop the reading children (done, or no longer wanted after an error or Ctrl-C); a pipe is
    closed once its thread is done with it (each ends at its pipe's end)."""
    for child, _ in children:
        if child.is_alive():
            child.kill()
        child.join()
    for thread, ahead in pipes:
        while thread.is_alive():  # make room for its last put
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.05)
    for _, receiver in children:
        receiver.close()
