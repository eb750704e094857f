-- rag-bot delivery bookkeeping (owned by bot/).
--
-- A reply row (messages.from_bot) is delivered when processed and
-- discord_message_id IS NOT NULL. The bot marks a reply it must give up
-- on (deleted thread, lost access, a body Discord rejects, or 10 failed
-- attempts) processed with last_error set and no discord_message_id, so
-- it is never retried forever and never blocks the outbox. This view
-- lists those; rag_outbox_requeue() puts one back in the queue.

CREATE VIEW outbox_failed AS
    SELECT thread_id, message_id, delivery_attempts, last_error,
           created_at, updated_at
    FROM messages
    WHERE from_bot AND processed AND discord_message_id IS NULL
      AND last_error IS NOT NULL;

CREATE FUNCTION rag_outbox_requeue(p_thread text, p_message text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages
       SET processed = false, delivery_attempts = 0, lease_until = NULL,
           locked_by = NULL, last_error = NULL
     WHERE thread_id = p_thread AND message_id = p_message AND from_bot
       AND discord_message_id IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('rag_outbox', p_thread);
    RETURN true;
END $$;

-- Replies waiting for a retry are found by lease time as well.
CREATE INDEX messages_outbox_lease ON messages (lease_until)
    WHERE from_bot AND NOT processed;
