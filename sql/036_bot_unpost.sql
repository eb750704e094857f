-- A deleted question takes the bot's answer with it (issue 12). When a
-- user deletes a message the bot answered (MESSAGE_DELETE or _BULK), the
-- bot deletes its own answer messages (every part of a long one) from
-- Discord; when the deleted message is the thread's starter, also the
-- controller (its vote was about that answer, and it names the asker).
-- Nothing is left that was derived from content that no longer exists,
-- as Discord's developer policy asks.
--
-- Each removal is a delivery of kind 'unpost' (DELETE /channels/{thread}
-- /messages/{target}): recorded in the transaction of the erasure,
-- claimed, retried and settled like any other; Discord's 10008 Unknown
-- Message means someone removed it already (done).
--
-- The starter's deletion also clears the thread's title everywhere it is
-- stored: the title is the question's first line, written by the same
-- person, and goes with it (a later THREAD_UPDATE does not bring it back).

ALTER TABLE deliveries DROP CONSTRAINT deliveries_kind_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check
    CHECK (kind IN ('controller', 'edit', 'react', 'archive', 'notice',
                    'unpost'));

-- Every Discord message of a delivered reply, the first included (a long
-- answer is several); NULL for replies delivered before this column.
ALTER TABLE messages ADD COLUMN discord_part_ids text[];

-- Records the removal of one of the bot's messages in a thread.
CREATE FUNCTION rag_unpost(p_thread text, p_message text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO deliveries (thread_id, kind, target_id, dedupe_key)
    SELECT p_thread, 'unpost', p_message, 'unpost:' || p_message
     WHERE p_message IS NOT NULL AND p_message <> ''
       AND EXISTS (SELECT 1 FROM threads WHERE thread_id = p_thread)
    ON CONFLICT (dedupe_key) DO NOTHING
$$;

-- The bot's Discord messages answering any of p_ids, and the controller
-- of a thread whose starter is among them, are removed; what was still
-- to be sent about them is not sent.
CREATE FUNCTION rag_unpost_answers(p_ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT m.thread_id,
                    unnest(coalesce(m.discord_part_ids,
                                    ARRAY[m.discord_message_id])) AS id
               FROM messages m
              WHERE m.from_bot AND m.discord_message_id IS NOT NULL
                AND m.reply_to = ANY (p_ids)
    LOOP
        PERFORM rag_unpost(r.thread_id, r.id);
    END LOOP;
    FOR r IN SELECT t.thread_id, t.thread_controller_id
               FROM threads t WHERE t.thread_id = ANY (p_ids)
    LOOP
        PERFORM rag_unpost(r.thread_id, r.thread_controller_id);
        -- the controller and its vote are not posted or edited any more
        DELETE FROM deliveries
         WHERE thread_id = r.thread_id AND state = 'queued'
           AND locked_by IS NULL AND kind IN ('controller', 'edit', 'react')
           AND (kind <> 'react' OR target_id = r.thread_controller_id);
    END LOOP;
END $$;

-- A reply in flight when its question was deleted is posted anyway (the
-- request may be on its way); once its id is recorded, it is removed.
-- So is a controller posted after its thread's starter was deleted.
CREATE FUNCTION rag_messages_unpost_late() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    id text;
BEGIN
    IF EXISTS (SELECT 1 FROM erased_messages e
               WHERE e.message_id = NEW.reply_to) THEN
        FOREACH id IN ARRAY coalesce(NEW.discord_part_ids,
                                     ARRAY[NEW.discord_message_id]) LOOP
            PERFORM rag_unpost(NEW.thread_id, id);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_unpost_late AFTER UPDATE OF discord_message_id
    ON messages FOR EACH ROW
    WHEN (NEW.from_bot AND NEW.discord_message_id IS NOT NULL
          AND OLD.discord_message_id IS NULL)
    EXECUTE FUNCTION rag_messages_unpost_late();

CREATE FUNCTION rag_threads_erased_starter() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM erased_messages e
               WHERE e.message_id = NEW.thread_id) THEN
        NEW.title := '';
        IF NEW.thread_controller_id IS NOT NULL
           AND OLD.thread_controller_id IS NULL THEN
            PERFORM rag_unpost(NEW.thread_id, NEW.thread_controller_id);
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER threads_erased_starter BEFORE UPDATE ON threads
    FOR EACH ROW EXECUTE FUNCTION rag_threads_erased_starter();

-- rag_erase_messages (034), now also for a reply in flight: settled as
-- not to be sent (its poster records its id, which the trigger above
-- removes from Discord); and a deleted starter takes the title. Used by
-- rag-admin forget-user too, which deletes nothing on Discord: the
-- person's messages are still there, and so are the answers to them.
CREATE OR REPLACE FUNCTION rag_erase_messages(p_ids text[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    n int;
    t record;
BEGIN
    IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
        RETURN 0;
    END IF;
    -- with the re-ask rows (033) that copy them
    p_ids := p_ids || ARRAY(SELECT message_id FROM messages
                             WHERE edit_of = ANY (p_ids));
    INSERT INTO erased_messages (message_id)
    SELECT DISTINCT unnest(p_ids) ON CONFLICT DO NOTHING;
    FOR t IN SELECT DISTINCT th.guild_id, th.thread_id
               FROM messages m JOIN threads th USING (thread_id)
              WHERE (m.message_id = ANY (p_ids)
                     OR m.discord_message_id = ANY (p_ids))
                AND th.solved
    LOOP
        PERFORM rag_community_forget_thread(t.guild_id, t.thread_id);
    END LOOP;
    UPDATE threads SET title = '' WHERE thread_id = ANY (p_ids);
    DELETE FROM jobs
     WHERE kind = 'answer' AND state <> 'running'
       AND payload->>'message_id' = ANY (p_ids);
    DELETE FROM gaps WHERE message_id = ANY (p_ids);
    DELETE FROM deliveries
     WHERE target_id = ANY (p_ids) AND state <> 'done' AND kind <> 'unpost';
    DELETE FROM interactions
     WHERE 'ask-' || interaction_id = ANY (p_ids);
    DELETE FROM messages
     WHERE from_bot AND discord_message_id IS NULL
       AND reply_to = ANY (p_ids)
       AND (locked_by IS NULL OR lease_until < now());
    UPDATE messages SET processed = true, last_error = 'question deleted'
     WHERE from_bot AND discord_message_id IS NULL
       AND reply_to = ANY (p_ids);
    UPDATE messages SET content = '', sources = NULL,
           last_error = CASE WHEN discord_message_id IS NULL
                             THEN last_error END
     WHERE from_bot AND (reply_to = ANY (p_ids)
                         OR discord_message_id = ANY (p_ids));
    DELETE FROM messages
     WHERE NOT from_bot AND message_id = ANY (p_ids) AND edit_of IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM messages WHERE NOT from_bot AND message_id = ANY (p_ids);
    RETURN n;
END $$;

-- Messages deleted on Discord (MESSAGE_DELETE, _BULK): the bot's
-- messages about them (and about their re-asks, 033) removed from
-- Discord, then erased as above, in one statement. Returns the number of
-- users' messages erased.
CREATE FUNCTION rag_delete_messages(p_ids text[]) RETURNS int
LANGUAGE plpgsql AS $$
BEGIN
    IF p_ids IS NULL OR cardinality(p_ids) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM rag_unpost_answers(p_ids || ARRAY(
        SELECT message_id FROM messages WHERE edit_of = ANY (p_ids)));
    RETURN rag_erase_messages(p_ids);
END $$;
