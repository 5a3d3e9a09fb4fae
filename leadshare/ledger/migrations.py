"""Numbered, append-only schema steps, applied in order and tracked in PRAGMA user_version.

Never edit a step that has shipped: add a new one. A ledger whose user_version is above the
last step here was written by a newer leadshare and is refused rather than guessed at.
"""

from __future__ import annotations

APPLICATION_ID = 0x4C534852  # 'LSHR': marks the file as a leadshare ledger

STEPS: list[str] = [
    # 1: the event log, its projections, and the content-addressed side tables.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE events (
        seq   INTEGER PRIMARY KEY,
        at    TEXT NOT NULL,
        actor TEXT NOT NULL,
        type  TEXT NOT NULL,
        lead  INTEGER,
        agent TEXT,
        data  TEXT NOT NULL,
        hash  BLOB NOT NULL
    );
    CREATE INDEX events_lead ON events (lead) WHERE lead IS NOT NULL;
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

    CREATE TABLE rules_versions (
        hash TEXT PRIMARY KEY, path TEXT, text TEXT NOT NULL, first_seen TEXT NOT NULL
    );
    CREATE TABLE candidate_sets (hash BLOB PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;

    CREATE TABLE imports (
        batch INTEGER PRIMARY KEY,
        file_hash TEXT NOT NULL,
        name TEXT,
        at TEXT NOT NULL,
        rows INTEGER NOT NULL, imported INTEGER NOT NULL, duplicates INTEGER NOT NULL,
        rejected INTEGER NOT NULL, assigned INTEGER NOT NULL, queued INTEGER NOT NULL,
        rejects_file TEXT,
        rules TEXT
    );
    CREATE INDEX imports_file_hash ON imports (file_hash);

    -- Personal fields (name, phone, email and their dedupe keys) sit here beside the chain: events
    -- carry only the salted digest `pd`, so `forget` can erase them and the chain still verifies.
    CREATE TABLE leads (
        id INTEGER PRIMARY KEY,
        external_id TEXT,
        name TEXT,
        phone TEXT,
        email TEXT,
        phone_key TEXT,
        email_key TEXT,
        pd BLOB,
        source TEXT,
        region TEXT,
        attrs TEXT NOT NULL DEFAULT '{}',
        batch INTEGER,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL,
        agent TEXT,
        rule TEXT,
        strategy TEXT,
        cands BLOB,
        decided_seq INTEGER,
        assigned_at TEXT,
        sla_start TEXT,
        sla_due TEXT,
        first_contact_at TEXT,
        closed_at TEXT,
        queued_reason TEXT,
        sla_reassigns INTEGER NOT NULL DEFAULT 0,
        last_note_at TEXT,
        status_at TEXT,
        warned_at TEXT,
        escalated_at TEXT,
        forgotten_at TEXT
    );
    CREATE INDEX leads_phone ON leads (phone_key) WHERE phone_key IS NOT NULL;
    CREATE INDEX leads_email ON leads (email_key) WHERE email_key IS NOT NULL;
    CREATE INDEX leads_external ON leads (external_id) WHERE external_id IS NOT NULL;
    CREATE INDEX leads_agent_status ON leads (agent, status);
    CREATE INDEX leads_queued ON leads (id) WHERE agent IS NULL;
    CREATE INDEX leads_assigned_at ON leads (assigned_at);
    CREATE INDEX leads_sla ON leads (sla_due) WHERE first_contact_at IS NULL AND agent IS NOT NULL;

    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        lead INTEGER NOT NULL REFERENCES leads (id),
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        author TEXT NOT NULL,
        text TEXT
    );
    CREATE INDEX notes_lead ON notes (lead);

    CREATE TABLE rotation (
        rule TEXT PRIMARY KEY,
        last TEXT,
        roster TEXT NOT NULL DEFAULT '[]',
        current TEXT NOT NULL DEFAULT '{}'
    );

    -- Notifications wait here, written in the same transaction as the event that caused them, until
    -- `leadshare notify` delivers them; a delivered row is never sent again.
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        agent TEXT,
        lead INTEGER,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at TEXT,
        last_error TEXT,
        delivered_at TEXT
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;

    -- The rare event types (handoffs, escalations, notes...) by type; the bulk of the log
    -- (assigned, queued, duplicate) stays out of this index so an import does not pay for it.
    CREATE INDEX events_rare_type ON events (type, seq) WHERE type NOT IN ('assigned', 'queued', 'duplicate');

    -- Tiers earned by `tiers --apply`; they override the rules file's tier for the engine.
    CREATE TABLE agent_tiers (agent TEXT PRIMARY KEY, tier TEXT, since TEXT NOT NULL, seq INTEGER NOT NULL);

    CREATE TABLE leave (
        id INTEGER PRIMARY KEY,
        agent TEXT NOT NULL,
        start TEXT NOT NULL,
        end TEXT NOT NULL,
        reason TEXT,
        cancelled_at TEXT
    );
    """,
    # 2: what reads must answer without walking a million leads.
    """
    -- Partial indexes say "not one of" with <> rather than NOT IN: SQLite evaluates NOT IN (...)
    -- at a cost for every row written (a million-event import paid 3 s for the one below).
    -- A query must repeat the WHERE word for word to use such an index (store.OPEN_LEADS and
    -- store.RARE_EVENTS do).
    DROP INDEX events_rare_type;
    CREATE INDEX events_rare_type ON events (type, seq)
        WHERE type <> 'assigned' AND type <> 'queued' AND type <> 'duplicate';

    -- An agent's open leads without the years of closed ones (`mine`, handoffs): the WHERE is
    -- models.CLOSED_STATUSES written out.
    CREATE INDEX leads_open_agent ON leads (agent) WHERE status <> 'won' AND status <> 'lost';

    -- First contacts in a period: only the contacted leads, not every lead assigned in it.
    CREATE INDEX leads_contacted ON leads (assigned_at) WHERE first_contact_at IS NOT NULL;
    -- Assignments in a period are read from assignment_counts (below) now.
    DROP INDEX leads_assigned_at;

    -- Owned leads counted by what fairness groups them by, per assignment time, so a report over
    -- a million leads reads a few thousand rows. New leads are counted by Ledger.insert_leads
    -- (an insert trigger cost 16 us a row); every later change by the trigger below. NULL is
    -- stored as '' (x'' for cands) so the key is unique; readers turn it back. `verify` recounts
    -- it from the leads.
    CREATE TABLE assignment_counts (
        assigned_at TEXT NOT NULL, agent TEXT NOT NULL, cands BLOB NOT NULL, rule TEXT NOT NULL,
        strategy TEXT NOT NULL, source TEXT NOT NULL, region TEXT NOT NULL, status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (assigned_at, agent, cands, rule, strategy, source, region, status)
    ) WITHOUT ROWID;
    INSERT INTO assignment_counts
        SELECT assigned_at, agent, coalesce(cands, x''), coalesce(rule, ''), coalesce(strategy, ''),
               coalesce(source, ''), coalesce(region, ''), status, count(*)
        FROM leads WHERE agent IS NOT NULL AND assigned_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    CREATE TRIGGER leads_recounted AFTER UPDATE OF assigned_at, agent, cands, rule, strategy, source, region, status ON leads
    BEGIN
        UPDATE assignment_counts SET n = n - 1
            WHERE OLD.agent IS NOT NULL AND OLD.assigned_at IS NOT NULL
              AND assigned_at = OLD.assigned_at AND agent = OLD.agent AND cands = coalesce(OLD.cands, x'')
              AND rule = coalesce(OLD.rule, '') AND strategy = coalesce(OLD.strategy, '')
              AND source = coalesce(OLD.source, '') AND region = coalesce(OLD.region, '') AND status = OLD.status;
        DELETE FROM assignment_counts
            WHERE n = 0 AND assigned_at = OLD.assigned_at AND agent = OLD.agent AND cands = coalesce(OLD.cands, x'')
              AND rule = coalesce(OLD.rule, '') AND strategy = coalesce(OLD.strategy, '')
              AND source = coalesce(OLD.source, '') AND region = coalesce(OLD.region, '') AND status = OLD.status;
        INSERT INTO assignment_counts
            SELECT NEW.assigned_at, NEW.agent, coalesce(NEW.cands, x''), coalesce(NEW.rule, ''), coalesce(NEW.strategy, ''),
                   coalesce(NEW.source, ''), coalesce(NEW.region, ''), NEW.status, 1
            WHERE NEW.agent IS NOT NULL AND NEW.assigned_at IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    """,
    # 3: the (agent, status) index served nothing but `mine --all` once open leads had their own
    # index; every write of a lead paid for it.
    """
    DROP INDEX leads_agent_status;
    """,
    # 4: reads that stop early instead of walking every row.
    """
    -- `mine` shows an agent's most urgent open leads (not contacted yet, SLA due soonest; the rest
    -- after them) and stops at --limit: in this index's order, an agent holding 97,000 open leads
    -- reads 50 of them. Its first column serves every query the (agent) index served, which it
    -- replaces, so a write pays for no more indexes than before. store.URGENCY repeats the
    -- expressions word for word.
    DROP INDEX leads_open_agent;
    CREATE INDEX leads_open_urgency ON leads (agent, first_contact_at IS NOT NULL, coalesce(sla_due, '~'))
        WHERE status <> 'won' AND status <> 'lost';

    -- The dashboard's leads created in a period, per source, read from this index alone instead of
    -- every lead. An import stamps its whole batch with one time: new entries land at its end.
    CREATE INDEX leads_created ON leads (created_at, source);
    """,
    # 5: the other phones and emails a list cell held beside a lead's own (Krayin's `emails`):
    # they match duplicates as the lead's own do, and `forget` erases them with the lead's.
    """
    CREATE TABLE IF NOT EXISTS other_contacts (lead INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS other_contacts_key ON other_contacts (key);
    CREATE INDEX IF NOT EXISTS other_contacts_lead ON other_contacts (lead);
    """,
    # 6: a salt per lead, beside its personal fields and erased with them by `forget`: the digests
    # the chain keeps of a lead (its personal digest `pd`, covering external_id too, and its notes')
    # can then no longer be tested against a guessed phone or email. Leads from before this step
    # keep the ledger-wide salt in meta (salt NULL here) until they are forgotten.
    """
    ALTER TABLE leads ADD COLUMN salt BLOB;
    """,
    # 7: the login that wrote an event, as a PostgreSQL ledger records it; a ledger copied from one
    # keeps its logins (the chain covers them). Events written here have none.
    """
    ALTER TABLE events ADD COLUMN login TEXT;
    """,
]

LATEST = len(STEPS)
