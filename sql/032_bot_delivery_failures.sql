-- Why a delivery failed, and threads the bot can no longer reach (owned
-- by bot/; issue 12).
--
-- A delivery that cannot heal (Unknown Channel, Unknown Message, Missing
-- Access, Missing Permissions, ...) or that used up its attempts on 5xx or
-- no response is given up with a short reason (messages.delivery_failure,
-- deliveries.failure: unknown_channel, missing_access, server_error, ...)
-- beside the full error text (last_error). When the thread's channel
-- itself is gone or out of reach (10003, 50001, THREAD_DELETE) the thread
-- is marked unreachable: its pending deliveries fail without a request and
-- catch-up leaves it alone, until a gateway event shows it alive again or
-- an operator requeues one of its deliveries.
ALTER TABLE threads ADD COLUMN unreachable text,
                    ADD COLUMN unreachable_at timestamptz;
ALTER TABLE messages ADD COLUMN delivery_failure text;
ALTER TABLE deliveries ADD COLUMN failure text;

-- Every delivery given up on, replies and the rest, for /status, the
-- dashboard and /rag/metrics.
CREATE VIEW delivery_failures AS
    SELECT 'reply'::text AS kind, m.thread_id, t.guild_id,
           m.message_id AS ref, coalesce(m.delivery_failure, 'other') AS failure,
           m.last_error AS error, m.delivery_attempts AS attempts,
           m.updated_at AS failed_at
      FROM messages m JOIN threads t ON t.thread_id = m.thread_id
     WHERE m.from_bot AND m.processed AND m.discord_message_id IS NULL
       AND m.last_error IS NOT NULL
    UNION ALL
    SELECT d.kind, d.thread_id, t.guild_id, d.dedupe_key,
           coalesce(d.failure, 'other'), d.last_error, d.attempts, d.updated_at
      FROM deliveries d JOIN threads t ON t.thread_id = d.thread_id
     WHERE d.state = 'failed';

-- Requeueing trusts the operator: the thread is reachable again.
CREATE OR REPLACE FUNCTION rag_outbox_requeue(p_thread text, p_message text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages
       SET processed = false, delivery_attempts = 0, lease_until = NULL,
           locked_by = NULL, last_error = NULL, delivery_failure = NULL
     WHERE thread_id = p_thread AND message_id = p_message AND from_bot
       AND discord_message_id IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE threads SET unreachable = NULL, unreachable_at = NULL
     WHERE thread_id = p_thread AND unreachable IS NOT NULL;
    PERFORM pg_notify('rag_outbox', p_thread);
    RETURN true;
END $$;

CREATE FUNCTION rag_delivery_requeue(p_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_thread text;
BEGIN
    UPDATE deliveries
       SET state = 'queued', attempts = 0, lease_until = NULL,
           locked_by = NULL, last_error = NULL, failure = NULL,
           seq = nextval('deliveries_seq')
     WHERE id = p_id AND state = 'failed'
     RETURNING thread_id INTO v_thread;
    IF v_thread IS NULL THEN
        RETURN false;
    END IF;
    UPDATE threads SET unreachable = NULL, unreachable_at = NULL
     WHERE thread_id = v_thread AND unreachable IS NOT NULL;
    RETURN true;
END $$;
