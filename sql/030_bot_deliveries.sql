-- The bot's other Discord writes as an outbox (owned by bot/; issue 12).
--
-- Replies are delivered from the messages table. Everything else the bot
-- owes Discord for a thread lives here: its controller message, the
-- controller's edits, reactions (👀 on a question, ✅/❌ for voting),
-- archive changes and notices. A row is written in the same transaction
-- as the change that calls for it, then delivered like a reply: claimed
-- with a lease (renewed while in flight), sent with a deterministic nonce
-- when it creates a message (a retry after a crash returns the first
-- message), retried with backoff, and either done (with the Discord id it
-- created) or failed with the reason.
--
-- dedupe_key names the intent ('controller:<thread>', 'react:<message>:
-- <emoji>', 'edit:<thread>', ...), so recording it twice is harmless.
-- For edits and archive changes the latest intent wins: recording one
-- again re-arms the row (state back to queued, a new seq); if it is in
-- flight at that moment, dirty makes it run once more after it ends.
-- Within a thread the controller, its edits and archive changes run one
-- at a time in seq order (an edit must not reach an archived thread, nor
-- come before the controller exists); reactions and notices run freely.
CREATE SEQUENCE deliveries_seq;

CREATE TABLE deliveries (
    id          bigserial PRIMARY KEY,
    seq         bigint NOT NULL DEFAULT nextval('deliveries_seq'),
    thread_id   text NOT NULL REFERENCES threads ON DELETE CASCADE,
    kind        text NOT NULL
                CHECK (kind IN ('controller', 'edit', 'react', 'archive',
                                'notice')),
    target_id   text,           -- react: the message reacted to
    emoji       text,           -- react: the emoji, as UTF-8
    body        jsonb,          -- notice: the message; archive: the PATCH
    dedupe_key  text NOT NULL UNIQUE,
    state       text NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'done', 'failed')),
    dirty       boolean NOT NULL DEFAULT false,
    attempts    int NOT NULL DEFAULT 0,
    lease_until timestamptz,    -- claimed until, or retry not before
    locked_by   text,
    last_error  text,
    discord_id  text,           -- the message a controller / notice created
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz
);
CREATE INDEX deliveries_due ON deliveries (seq) WHERE state = 'queued';
CREATE INDEX deliveries_thread ON deliveries (thread_id, seq)
    WHERE state = 'queued';

CREATE TRIGGER deliveries_touch BEFORE UPDATE ON deliveries
    FOR EACH ROW EXECUTE FUNCTION rag_touch_updated_at();

-- New or re-armed work wakes the bot (LISTEN rag_outbox), as replies do.
CREATE FUNCTION rag_deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'queued'
                                 OR OLD.seq <> NEW.seq) THEN
        PERFORM pg_notify('rag_outbox', NEW.thread_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER deliveries_notify AFTER INSERT OR UPDATE ON deliveries
    FOR EACH ROW EXECUTE FUNCTION rag_deliveries_notify();
