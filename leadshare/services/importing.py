"""Importing a file's leads in one transaction: each deduplicated against the ledger and the file
itself, each new one decided by the rules, written a chunk at a time. The steps of one import are
_Import's methods, in the order they run: plan how known leads are found, prepare each record
where it is read, match each chunk against the ledger, decide and write its leads, then count,
record the batch and notify its agents."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from leadshare import contacts, engine
from leadshare.bulk import paused_gc
from leadshare.ledger.events import NewEvent, canonical
from leadshare.ledger.store import BULK_LEADS, Ledger
from leadshare.services.deciding import _NO_FIELDS, _Decider, lead_fields
from leadshare.services.digests import SALT_BYTES, personal_digest, row_digest
from leadshare.services.notifying import _enqueue, notification
from leadshare.services.session import Session, record_rules

Progress = Callable[[int, int], None]

WRITE_CHUNK = 20_000  # leads read, decided, then written, at a time: memory stays flat on big files

_COUNTS = ("rows", "imported", "duplicates", "rejected", "assigned", "queued")


@dataclass
class ImportResult:
    batch: int
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    assigned: int = 0
    queued: int = 0
    rejects_file: str | None = None
    already_imported: bool = False
    dry_run: bool = False
    kept: int = 0
    unknown_owners: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    by_agent: dict[str, int] = field(default_factory=dict)
    first_lead: int | None = None  # new leads got consecutive ids from here
    duplicate_of: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The batch's counts, as its `imported` event and the imports table keep them."""
        return {name: getattr(self, name) for name in _COUNTS}

    def as_json(self) -> dict:
        out = {"batch": self.batch, **self.counts(), "rejects_file": self.rejects_file}
        if self.already_imported:
            out["already_imported"] = True
        if self.dry_run:
            out["dry_run"] = True
        if self.kept or self.unknown_owners:
            out["kept_owner"] = self.kept
            out["unknown_owners"] = self.unknown_owners
        out["by_agent"] = self.by_agent
        return out


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back after deciding everything for real."""


def import_file(
    s: Session,
    parsed,  # importer.ParsedFile
    *,
    keep_owner: bool = False,
    force: bool = False,
    dry_run: bool = False,
    rejects_writer: Callable[[], str | None] | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import parsed leads: deduplicate against the ledger and the file itself, decide an owner
    for each new lead, and write it all in one transaction (or, with dry_run, nothing)."""
    ledger = s.ledger
    result = ImportResult(batch=0)
    try:
        with ledger.write():
            previous = ledger.import_of(parsed.content_hash)
            if previous is not None and not force:
                # this run's counts: nothing imported (a cron script summing them counts each lead once)
                return ImportResult(batch=previous["batch"], rows=previous["rows"], already_imported=True)
            with paused_gc():
                result = _Import(s, parsed, keep_owner, progress).run()
            if dry_run:
                result.dry_run = True
                raise _DryRun
            if parsed.rejects and rejects_writer is not None:
                # written before the commit: if the rejects cannot be kept, nothing is imported
                result.rejects_file = rejects_writer()
                ledger.set_rejects_file(result.batch, result.rejects_file)
    except _DryRun:
        pass
    return result


_ROW_AGENT = Ledger.LEAD_COLUMNS.index("agent")  # the owner's place in a new lead's row


class _BatchWriter:
    """Gathers a run of new leads and their events and writes them together, so a big import
    holds a chunk in memory, not the whole file. The import holds the write lock and nothing
    else appends meanwhile, so each event's seq is known when it is added: a lead row names the
    event that decided it from the start."""

    def __init__(self, s: Session):
        self.s = s
        self.rows: list[tuple] = []
        self.events: list[tuple] = []
        self.by_agent_ids: dict[str, list[int]] = {}
        self.other_contacts: list[tuple[int, str, str]] = []  # (lead, kind, key) of list cells' other values
        self.counted: Counter = Counter()  # the new leads by assignment_counts' columns, written at the end
        self.notify = s.team.notify is not None  # each agent is told of their new leads
        self.first_seq = s.ledger.last_seq() + 1  # of the pending events

    @property
    def next_seq(self) -> int:
        return self.first_seq + len(self.events)

    def add(self, row: tuple | None, event: tuple) -> None:
        """`row` (a lead row naming next_seq as its deciding event) or None, and its event (a
        NewEvent, or a plain tuple of its fields)."""
        if row is not None:
            self.rows.append(row)
            if self.notify and row[_ROW_AGENT]:
                self.by_agent_ids.setdefault(row[_ROW_AGENT], []).append(row[0])
        self.events.append(event)
        if len(self.events) >= WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.events:
            return
        ledger = self.s.ledger
        ledger.insert_leads(self.rows, self.counted)
        if self.other_contacts:
            ledger.insert_other_contacts(self.other_contacts)
            self.other_contacts = []
        seqs = ledger.append(self.events, at=self.s.at, actor=self.s.actor)
        assert seqs[0] == self.first_seq, "another writer appended during the import"
        self.first_seq += len(self.events)
        self.rows, self.events = [], []

    def finish(self) -> None:
        """The last chunk, then the counts of all the new leads."""
        self.flush()
        self.s.ledger.add_to_assignment_counts(self.counted)
        self.counted = Counter()


class _Import:
    """One import of `parsed` (an importer.ParsedStream or ParsedFile), whose records are taken a
    chunk at a time, so a big file is never held as records all at once."""

    def __init__(self, s: Session, parsed, keep_owner: bool, progress: Progress | None):
        ledger, team = s.ledger, s.team
        record_rules(s)
        self.s, self.parsed, self.keep_owner, self.progress = s, parsed, keep_owner, progress
        self.batch = ledger.next_batch()
        self.result = ImportResult(batch=self.batch)
        self.decider = _Decider(s)
        self.writer = _BatchWriter(s)
        self.closed, self.statuses = set(team.closed_statuses), set(team.statuses)
        self.next_id = self.first_new = self.result.first_lead = ledger.next_lead_id()
        self.by_agent: dict[str, int] = {}
        self.rules_read_fields = engine.reads_lead_fields(team)  # else a lead's fields need not be gathered
        self.need_attrs = self.rules_read_fields or keep_owner
        # key -> the lead with it as (id, status, agent), or a list of them newest first when several
        # have it (a bare tuple saves a list per key: a million-row file makes two million keys): the
        # ledger's leads that share a key with the file, and every new lead of this file so far
        # (later rows dedupe against them)
        self.seen: dict[str, tuple | list[tuple]] = {}
        self.lookup, self.others_known, self.bulk = self._plan_lookup()

    def run(self) -> ImportResult:
        parsed, rows, start = self.parsed, 0, 0  # start: where the chunk's rows begin, as parsed.position() counts
        with self.s.ledger.bulk_load(self.bulk):
            prepared: list[tuple] | None = None
            for prepared in parsed.chunks(WRITE_CHUNK, background=True, prepare=self.prepare):
                end, total = parsed.position()
                if self.lookup:
                    self._match_known(prepared)
                self._decide_and_write(prepared, start, (end - start) / len(prepared), total)
                rows += len(prepared)
                start = end
            self.writer.finish()
            prepared = None
            self.seen.clear()  # before bulk_load rebuilds the indexes: that sort is the import's other big need
        self._count(rows)
        self._record()
        return self.result

    def _plan_lookup(self) -> tuple[bool, bool, int]:
        """How the ledger's leads that share a key with the file are found: (ask the ledger chunk
        by chunk, the ledger holds list cells' other phones and emails, new leads for bulk_load)."""
        ledger, estimate = self.s.ledger, self.parsed.estimated_rows
        if ledger.has_no_leads():
            return False, False, estimate
        others_known = ledger.has_other_contacts()
        if estimate >= BULK_LEADS and estimate > ledger.lead_count():
            # A file bigger than the ledger: its leads' indexes are rebuilt after the load (see
            # Ledger.bulk_load), so they cannot answer per chunk; the smaller ledger's keys are
            # read once instead (no more entries than the file itself adds).
            _add_existing(self.seen, ledger.all_leads(), self.first_new)
            if others_known:
                _add_existing(self.seen, ledger.leads_by_other_contacts(), self.first_new)
            return False, others_known, estimate
        return True, others_known, 0  # indexes stay: bulk_load(0) never drops them

    def prepare(self, records: list) -> list[tuple]:
        """What needs only the record, done where the rows are read (a child process for a big
        file), and all the rest of the import needs of it: (row, the record's part of the lead
        row, dedupe keys, row digest, the attributes when rules or --keep-owner read them, a list
        cell's other phones and emails). Each lead's own salt: one draw from the system's
        randomness per chunk, not per lead. The external id goes into the personal digest
        (erasable) instead of the row digest."""
        batch, at, need_attrs, email_key_of = self.batch, self.s.at, self.need_attrs, contacts.email_key
        out = []
        salts = os.urandom(SALT_BYTES * len(records))
        for i, r in enumerate(records):
            phone_key = r.phone if r.phone_usable else None
            email_key = email_key_of(r.email) if r.email_usable else None
            attrs = canonical(r.attrs).decode()
            salt = salts[i * SALT_BYTES:(i + 1) * SALT_BYTES]
            pd = personal_digest(salt, r.name, r.phone, r.email, phone_key, email_key, r.external_id)
            keys = _keys(r.external_id, phone_key, email_key)
            others = ()  # a list cell's other phones and emails: they match duplicates too
            if r.more_phones or r.more_emails:
                others = [("p", p) for p in r.more_phones] + [("e", email_key_of(e)) for e in r.more_emails]
                keys += [f"{kind}:{key}" for kind, key in others]
            out.append((
                r.row,
                (r.external_id, r.name, r.phone, r.email, phone_key, email_key, pd, r.source, r.region, attrs, salt),
                keys,
                row_digest(None, r.source, r.region, attrs, batch, at, pd),
                r.attrs if need_attrs else None,
                others,
            ))
        return out

    def _match_known(self, prepared: list[tuple]) -> None:
        """The ledger's leads sharing a key with the chunk, into `seen`."""
        ledger = self.s.ledger
        _add_existing(self.seen, ledger.matching_leads(
            (p[1][0] for p in prepared if p[1][0]),
            (k[2:] for p in prepared for k in p[2] if k[0] == "p"),  # list cells' other values too
            (k[2:] for p in prepared for k in p[2] if k[0] == "e"),
        ), self.first_new)
        if self.others_known:
            _add_existing(self.seen, ledger.leads_by_other_contacts(
                k[2:] for p in prepared for k in p[2] if k[0] != "x"), self.first_new)

    def _decide_and_write(self, prepared: list[tuple], start: int, step: float, total: int) -> None:
        """Each lead of the chunk: a duplicate of an open lead, or a new lead, its owner kept or
        decided; into the writer and into `seen`. Kept whole for speed: a call per lead here is a
        million calls, so everything the loop reads is a local and only the rare paths are calls."""
        result, writer, decider, seen, by_agent = self.result, self.writer, self.decider, self.seen, self.by_agent
        seen_get, progress, keep_owner, batch, at = seen.get, self.progress, self.keep_owner, self.batch, self.s.at
        closed, initial, rules_read_fields = self.closed, self.s.team.statuses[0], self.rules_read_fields
        next_id = self.next_id
        for i, (row_no, head, keys, digest, attrs, others) in enumerate(prepared):
            if progress and i % 2000 == 0:
                progress(start + int(step * i), total)
            matches = []
            for k in keys:
                found = seen_get(k)
                if found is not None:
                    if type(found) is tuple:
                        matches.append(found)
                    else:
                        matches.extend(found)
            open_match = next((m for m in matches if m[1] not in closed), None) if matches else None
            if open_match is not None:
                result.duplicates += 1
                result.duplicate_of.append(open_match[0])
                # no external id: the chain cannot forget it (the lead's row and digest can)
                writer.add(None, NewEvent("duplicate", lead=open_match[0], agent=open_match[2],
                                          data={"batch": batch, "row": row_no, "source": head[7]}))
                continue
            lead_id, next_id = next_id, next_id + 1
            kept = self._kept_lead(lead_id, row_no, head, digest, attrs) if keep_owner else None
            if kept is not None:
                row, event, agent_id, status = kept
            else:
                status = initial
                fields = lead_fields(head[0], head[7], head[8], attrs) if rules_read_fields else _NO_FIELDS
                decision, cands = decider.decide(fields, max(matches)[2] if matches else None)
                made = decider.new_lead(decision, cands, batch, status)
                event = made.event(lead_id, digest)
                agent_id = made.agent
                row = (lead_id, *head, batch, at, status, agent_id, made.rule, cands, writer.next_seq,
                       made.assigned_at, made.sla_start, made.sla_due, made.queued_reason, made.closed_at,
                       made.strategy)
            if agent_id:
                by_agent[agent_id] = by_agent.get(agent_id, 0) + 1
            writer.add(row, event)
            if others:
                writer.other_contacts.extend((lead_id, kind, key) for kind, key in others)
            mine = (lead_id, status, agent_id)  # one tuple shared by the lead's keys
            if not matches:  # none of its keys is known yet (most leads)
                for key in keys:
                    seen[key] = mine
                continue
            for key in keys:
                found = seen_get(key)
                if found is None:
                    seen[key] = mine
                elif type(found) is tuple:
                    seen[key] = [mine, found]
                else:
                    found.insert(0, mine)
        self.next_id = next_id

    def _kept_lead(self, lead_id: int, row_no: int, head: tuple, digest: str,
                   attrs: Mapping[str, str]) -> tuple[tuple, NewEvent, str, str] | None:
        """With --keep-owner: (row, event, owner, status) when the input's owner names a roster
        agent, with its pipeline status; None (and the owner noted when one was given) otherwise."""
        team, at, decider = self.s.team, self.s.at, self.decider
        owner = str(attrs.get("owner") or "").strip()
        agent = (team.agent(owner) or next((a for a in team.agents if owner.casefold() in (a.name.casefold(), a.id.casefold())), None)
                 ) if owner else None
        if agent is None:
            if attrs.get("owner"):
                self.result.unknown_owners.append(f"row {row_no}: {attrs['owner']}")
            return None
        given = str(attrs.get("status") or "").strip().lower()
        status = given if given in self.statuses else team.statuses[0]
        sla_start, sla_due = decider.sla(agent.id) if status == team.statuses[0] else (None, None)
        event = NewEvent("assigned", lead=lead_id, agent=agent.id, data={
            "batch": self.batch, "new": True, "row": digest, "kept": True, "status": status,
            "rules": team.content_hash, "sla_start": sla_start, "sla_due": sla_due,
        })
        closed = status in self.closed
        if not closed:
            decider.loads[agent.id] = decider.loads.get(agent.id, 0) + 1
        self.result.kept += 1
        row = (lead_id, *head, self.batch, at, status, agent.id, None, None, self.writer.next_seq, at, sla_start,
               sla_due, None, at if closed else None, None)
        return row, event, agent.id, status

    def _count(self, rows: int) -> None:
        result, parsed = self.result, self.parsed
        result.by_agent = self.by_agent
        result.imported = self.next_id - self.first_new
        result.assigned = sum(self.by_agent.values())
        result.queued = result.imported - result.assigned
        result.rejected = len(parsed.rejects)
        result.rows = rows + result.rejected
        result.warnings = list(parsed.warnings)
        if self.progress:
            total = parsed.position()[1]
            self.progress(total, total)

    def _record(self) -> None:
        """The batch's `imported` event closes it (its counts are known only once every row is
        decided), the rotation and candidate sets are saved, each agent is told of their new
        leads in one message, and the imports table keeps the batch."""
        s, parsed, result = self.s, self.parsed, self.result
        counts, rules = result.counts(), s.team.content_hash
        summary = {"batch": self.batch, "file": parsed.name, "hash": parsed.content_hash, **counts, "rules": rules}
        (imported_seq,) = s.ledger.append([NewEvent("imported", data=summary)], at=s.at, actor=s.actor)
        self.decider.save()
        _enqueue(s, [(imported_seq, notification(s, "assigned", None, agent, _new_leads_text(ids, parsed.name), leads=ids))
                     for agent, ids in self.writer.by_agent_ids.items()])
        s.ledger.add_import({"batch": self.batch, "file_hash": parsed.content_hash, "name": parsed.name, "at": s.at,
                             **counts, "rejects_file": None, "rules": rules})


def _new_leads_text(ids: list[int], file_name: str) -> str:
    return (f"{len(ids)} new lead{'s' if len(ids) > 1 else ''} for you from {file_name}: "
            + ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else ""))


def _add_existing(seen: dict[str, tuple | list[tuple]], rows: Iterable[dict], first_new: int) -> None:
    """Merge ledger leads into `seen`, keeping each key's leads newest first without repeats
    (chunks can find the same lead again; this import's own leads are there already)."""
    for row in rows:
        lead_id = row["id"]
        if lead_id >= first_new:
            continue
        entry = (lead_id, row["status"], row["agent"])
        keys = _keys(row["external_id"], row["phone_key"], row["email_key"])
        if row.get("other_key"):  # found by a list cell's other phone or email
            keys.append(f"{row['other_kind']}:{row['other_key']}")
        for key in keys:
            found = seen.get(key)
            if found is None:
                seen[key] = entry
                continue
            if type(found) is tuple:
                found = seen[key] = [found]
            if all(m[0] != lead_id for m in found):
                found.append(entry)
                if found[-2][0] < lead_id:
                    found.sort(reverse=True)


def _keys(external_id, phone_key, email_key) -> list[str]:
    keys = []
    if external_id:
        keys.append("x:" + external_id)
    if phone_key:
        keys.append("p:" + phone_key)
    if email_key:
        keys.append("e:" + email_key)
    return keys
