-- Edits (issue 12). A question edited before it is answered is answered
-- as edited (the queued job reads the stored text when it runs); edited
-- after (or while being answered), the bot offers a re-answer: it
-- reacts 🔁 on the message and says so, and the author's (or a mod's)
-- 🔁 stores the edited text once more as a re-ask row, which the
-- messages trigger answers like a mention.

ALTER TABLE messages
    ADD COLUMN revision  int NOT NULL DEFAULT 0,   -- edits seen
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN edit_of   text;   -- a re-ask row: the message it re-asks
CREATE INDEX messages_edit_of ON messages (edit_of) WHERE edit_of IS NOT NULL;

-- p_mentions: the edited message mentions the bot. Returns what the
-- caller does next: 'unknown' (not stored), 'same' (no text change),
-- 'stored' (nothing to answer), 'pending' (its answer is still to come
-- and will read the edit), 'enqueued' (the edit asks the bot: answered
-- now), 'offer' (answered already: offer a re-answer), 'closed' (answered,
-- but the thread is solved or closed).
CREATE FUNCTION rag_message_edited(p_thread text, p_message text,
                                   p_content text, p_mentions boolean,
                                   OUT outcome text, OUT revision int)
LANGUAGE plpgsql AS $$
DECLARE
    m messages;
    st text;
    answered boolean;
BEGIN
    SELECT * INTO m FROM messages
     WHERE thread_id = p_thread AND message_id = p_message AND NOT from_bot
       FOR UPDATE;
    revision := m.revision;
    IF NOT FOUND THEN
        outcome := 'unknown';
        RETURN;
    END IF;
    IF m.content = p_content THEN
        outcome := 'same';
        RETURN;
    END IF;
    SELECT state INTO st FROM jobs
     WHERE dedupe_key = rag_answer_dedupe_key(p_thread, p_message);
    answered := st = 'running' OR EXISTS (
        SELECT 1 FROM messages r WHERE r.thread_id = p_thread
           AND r.from_bot AND r.reply_to = p_message);
    UPDATE messages u SET content = p_content, revision = u.revision + 1,
           edited_at = now(), mentions_bot = u.mentions_bot OR p_mentions
     WHERE u.thread_id = p_thread AND u.message_id = p_message
    RETURNING * INTO m;
    revision := m.revision;
    IF answered THEN
        outcome := CASE WHEN rag_message_wants_answer(m) THEN 'offer'
                        ELSE 'closed' END;
        RETURN;
    END IF;
    IF st IN ('queued', 'retry') THEN
        outcome := 'pending';
        RETURN;
    END IF;
    IF st IS NULL AND rag_message_wants_answer(m) THEN
        PERFORM rag_enqueue('answer',
            jsonb_build_object('thread_id', p_thread, 'message_id', p_message),
            rag_answer_dedupe_key(p_thread, p_message), 50);
        outcome := 'enqueued';
        RETURN;
    END IF;
    outcome := 'stored';
END $$;

-- The 🔁 on an edited, answered message: its current text stored as a
-- re-ask row (one per revision, so a second 🔁 answers nothing twice);
-- the messages trigger enqueues its answer. p_user must be the author
-- unless p_mod. true when a re-answer was asked for.
CREATE FUNCTION rag_message_reanswer(p_thread text, p_message text,
                                     p_user text, p_mod boolean)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    m messages;
    n int;
BEGIN
    SELECT * INTO m FROM messages
     WHERE thread_id = p_thread AND message_id = p_message AND NOT from_bot
       AND revision > 0 AND edit_of IS NULL;
    IF NOT FOUND OR NOT (p_mod OR m.author_id = p_user) THEN
        RETURN false;
    END IF;
    INSERT INTO messages (thread_id, message_id, author_id, content,
                          mentions_bot, processed, edit_of, revision)
    VALUES (p_thread, 'edit-' || m.revision || '-' || p_message,
            m.author_id, m.content, true, true, p_message, m.revision)
    ON CONFLICT (thread_id, message_id) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n = 1;
END $$;
