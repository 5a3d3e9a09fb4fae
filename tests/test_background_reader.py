"""Reading a big file in a child process gives exactly what reading it here gives."""

from __future__ import annotations

import os
import pickle

import pytest

from leadshare import importer
from leadshare.bulk import can_fork
from leadshare.errors import InputError, LeadshareError

pytestmark = pytest.mark.skipif(not can_fork(), reason="the background reader needs fork and two CPUs")


def _messy_file(rows: int) -> bytes:
    lines = ["Lead ID,Full Name,Mobile No,Email Address,Lead Source,State,Notes"]
    for i in range(rows):
        if i % 997 == 0:
            lines.append(f"X-{i},Nobody {i},n/a,not-an-email,facebook,KL,")  # rejected: no usable contact
        elif i % 1009 == 0:
            lines.append("")  # a blank line, counted
        elif i % 251 == 0:
            lines.append(f"X-{i},  LOUD  NAME {i} ,012-345,c{i}@Example.COM,web,Selangor,phone cut short")
        else:
            lines.append(f"X-{i},Customer {i},012-{3000000 + i:07d},C{i}@Example.com,facebook,KL,\"likes, commas\"")
    return ("\n".join(lines) + "\n").encode()


def _read(data: bytes, background: bool):
    stream = importer.open_leads(data, name="big.csv")
    records = [r for part in stream.chunks(20_000, background=background) for r in part]
    gathered = {name: getattr(stream, name) for name in importer.ParsedStream._GATHERED}
    return records, gathered, stream.position()


@pytest.mark.parametrize("readers", [1, 2])
def test_the_children_read_the_same_records_rejects_and_warnings(readers, monkeypatch):
    monkeypatch.setattr(importer.background, "TWO_READERS_ROWS", 0 if readers == 2 else 10**9)
    data = _messy_file(importer.BACKGROUND_ROWS + 5_000)
    here = _read(data, background=False)
    child = _read(data, background=True)
    assert child[0] == here[0]
    assert len(here[0]) > importer.BACKGROUND_ROWS
    assert child[1] == here[1]
    assert here[1]["rejects"] and here[1]["row_warning_count"] and here[1]["blank_lines"]
    assert child[2] == here[2]  # the progress bar ends full


@pytest.mark.parametrize("rows", [13, 14, 15, 27, 28, 40])
def test_two_readers_share_the_pieces_at_every_boundary(rows, monkeypatch):
    # Pieces of 7 rows taken in turn: files ending inside a piece, at its end, and a piece made
    # only of rejected rows (rows 14-21), which must still take its turn, empty.
    monkeypatch.setattr(importer.background, "BACKGROUND_ROWS", 0)
    monkeypatch.setattr(importer.background, "TWO_READERS_ROWS", 0)
    monkeypatch.setattr(importer.background, "BACKGROUND_PIECE", 7)
    lines = ["Name,Phone,Email"]
    for i in range(1, rows + 1):
        if 14 <= i <= 21:
            lines.append(f"Nobody {i},n/a,none")
        elif i % 5 == 0:
            lines.append("")
        elif i % 6 == 0:  # two warnings, in this order: text after a closing quote, then the email
            lines.append(f'"Customer {i}" x,012-{3000000 + i:07d},not-an-email')
        else:
            lines.append(f"Customer {i},012-{3000000 + i:07d},c{i}@example.com")
    data = ("\n".join(lines) + "\n").encode()
    here, child = _read(data, background=False), _read(data, background=True)
    assert [r.row for r in child[0]] == [r.row for r in here[0]]
    assert len([w for w in here[1]["row_warnings"] if w[0] == 6]) == 2
    assert child == here


def test_an_error_in_the_child_reaches_the_caller_whole(monkeypatch):
    real = importer.reading._read_rows

    def breaks_after_a_while(*args, **kwargs):
        rows = real(*args, **kwargs)
        yield next(rows)
        raise InputError("big.csv:9000: the file is too broken to read", "open it in a spreadsheet and save it as CSV")

    monkeypatch.setattr(importer.reading, "_read_rows", breaks_after_a_while)
    stream = importer.open_leads(_messy_file(importer.BACKGROUND_ROWS + 100), name="big.csv")
    with pytest.raises(InputError) as caught:
        for _ in stream.chunks(20_000, background=True):
            pass
    assert caught.value.message == "big.csv:9000: the file is too broken to read"
    assert caught.value.hint == "open it in a spreadsheet and save it as CSV"


def test_stopping_early_ends_the_child():
    stream = importer.open_leads(_messy_file(importer.BACKGROUND_ROWS * 3), name="big.csv")
    parts = stream.chunks(20_000, background=True)
    next(parts)
    children_before = {int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(int(p)) == os.getpid()}
    assert children_before  # the reader is running
    parts.close()  # what an exception in the import loop does to the generator
    still = {p for p in children_before if os.path.exists(f"/proc/{p}") and _state(p) not in ("Z", "X")}
    assert not still


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def test_errors_keep_their_hint_and_exit_code_across_processes():
    error = LeadshareError("leads.csv: no phone or email column", "add one", exit_code=1)
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), back.message, back.hint, back.exit_code, str(back)) == (
        LeadshareError, error.message, "add one", 1, str(error))


def test_without_a_process_to_spare_the_rows_are_read_here(monkeypatch):
    import multiprocessing.process

    def refuse(self):
        raise BlockingIOError(11, "Resource temporarily unavailable")  # fork() under a process limit

    data = _messy_file(importer.BACKGROUND_ROWS + 1_000)
    here = _read(data, background=False)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
    assert _read(data, background=True) == here



def test_when_the_second_reader_cannot_start_the_first_is_ended_and_the_rows_read_here(monkeypatch):
    import multiprocessing.process

    real = multiprocessing.process.BaseProcess.start
    started = []

    def second_refused(self):
        if started:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        real(self)
        started.append(self)

    monkeypatch.setattr(importer.background, "TWO_READERS_ROWS", 0)
    data = _messy_file(importer.BACKGROUND_ROWS + 1_000)
    here = _read(data, background=False)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", second_refused)
    assert _read(data, background=True) == here
    assert len(started) == 1 and not started[0].is_alive()
