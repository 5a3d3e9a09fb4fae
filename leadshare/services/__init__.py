"""Use cases that bring leads in. Each one is a single ledger transaction: read what it needs,
decide with the pure engine, append the events and update the projections together, or change
nothing at all.

    session.py    the Session every use case runs in; the rules version, the team's situation
    digests.py    what the chain keeps instead of personal data and stored rows
    deciding.py   a run of leads decided in memory: rotation, loads, candidate sets
    notifying.py  outbox payloads for `notify`
    importing.py  a file's leads, deduplicated, decided and written in one transaction
    queue.py      queued leads assigned once someone can take them
    by_hand.py    one lead added by hand

The names the rest of the code uses are importable from here.
"""

from leadshare.services.by_hand import add_lead
from leadshare.services.deciding import _Decider, _NewLead, lead_fields
from leadshare.services.digests import SALT_BYTES, note_digest, personal_digest, row_digest, salt_of, short_hash
from leadshare.services.importing import ImportResult, _BatchWriter, import_file
from leadshare.services.notifying import _enqueue, notification
from leadshare.services.queue import assign_waiting, previous_leads
from leadshare.services.session import Session, find_lead, ledger_leave, load_rules_with_first_change, record_rules, situation

__all__ = [
    "SALT_BYTES", "ImportResult", "Session", "_BatchWriter", "_Decider",
    "_NewLead", "_enqueue", "add_lead", "assign_waiting", "find_lead", "import_file", "lead_fields",
    "ledger_leave", "load_rules_with_first_change", "note_digest", "notification", "personal_digest", "previous_leads", "record_rules", "row_digest",
    "salt_of", "short_hash", "situation",
]
