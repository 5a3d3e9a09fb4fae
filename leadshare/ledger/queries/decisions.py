"""What decisions are made from and leave behind: the rules versions, the candidate sets stored
once under their hash, and each rule's rotation."""

from __future__ import annotations

from typing import Iterable

import orjson

from leadshare.ledger import events as ev
from leadshare.ledger.queries import chunks
from leadshare.models import RuleState


class DecisionRecords:
    def has_rules_version(self, content_hash: str) -> bool:
        return self.scalar("SELECT 1 FROM rules_versions WHERE hash = ?", (content_hash,)) is not None

    def add_rules_version(self, content_hash: str, path: str, text: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO rules_versions (hash, path, text, first_seen) VALUES (?, ?, ?, ?)",
            (content_hash, path, text, at),
        )

    def add_candidate_sets(self, sets: dict[bytes, str]) -> None:
        self.conn.executemany(
            "INSERT INTO candidate_sets (hash, data) VALUES (?, ?) ON CONFLICT DO NOTHING", list(sets.items())
        )

    def candidate_sets(self, hashes: Iterable[bytes]) -> dict[bytes, list]:
        out: dict[bytes, list] = {}
        for chunk in chunks(list(set(hashes))):
            marks = ",".join("?" * len(chunk))
            for h, data in self.conn.execute(f"SELECT hash, data FROM candidate_sets WHERE hash IN ({marks})", chunk):
                out[h] = orjson.loads(data)
        return out

    def rotation(self) -> dict[str, RuleState]:
        return {
            rule: RuleState(last=last, roster=tuple(orjson.loads(roster)), current=orjson.loads(current))
            for rule, last, roster, current in self.conn.execute("SELECT rule, last, roster, current FROM rotation")
        }

    def save_rotation(self, states: dict[str, RuleState]) -> None:
        self.conn.executemany(
            "INSERT INTO rotation (rule, last, roster, current) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (rule) DO UPDATE SET last = excluded.last, roster = excluded.roster, current = excluded.current",
            [
                (rule, s.last, ev.canonical(list(s.roster)).decode(), ev.canonical(dict(s.current)).decode())
                for rule, s in states.items()
            ],
        )
