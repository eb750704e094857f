-- Deletes and erasure (issue 12). What a user deleted on Discord, a
-- thread deleted, a guild that removed the bot, or a person who asked to
-- be forgotten (rag-admin forget-user) is deleted here with everything
-- derived from it: the stored text, the bot's answer text and sources,
-- gaps, answer jobs, queued deliveries, slash-command options and the
-- community-answers documents (whose next generation is enqueued).
-- Export rows are read from messages, so they follow.
--
-- One home for the rules: the bot and rag-admin call these functions.

-- Ids of erased messages (ids only, no content): a replayed
-- MESSAGE_CREATE (RESUME, a catch-up page) or an answer finishing after
-- the delete must not bring anything back. An erased thread's id (its
-- starter message's) is one of them: nothing more is stored in it.
CREATE TABLE erased_messages (
    message_id text PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION rag_messages_not_erased() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM erased_messages e
               WHERE e.message_id = NEW.message_id
                  OR e.message_id = NEW.reply_to
                  OR e.message_id = NEW.edit_of
                  OR e.message_id = NEW.thread_id) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER messages_not_erased BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION rag_messages_not_erased();

-- nor is an erased thread tracked again (a catch-up page, a replay)
CREATE FUNCTION rag_threads_not_erased() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM erased_messages e
               WHERE e.message_id = NEW.thread_id) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER threads_not_erased BEFORE INSERT ON threads
    FOR EACH ROW EXECUTE FUNCTION rag_threads_not_erased();

CREATE FUNCTION rag_gaps_not_erased() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM erased_messages e
               WHERE e.message_id = NEW.message_id) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER gaps_not_erased BEFORE INSERT ON gaps
    FOR EACH ROW EXECUTE FUNCTION rag_gaps_not_erased();

-- The community-answers document of a thread goes now; the guild's next
-- sync (enqueued) rebuilds it from what is left and writes a new index
-- generation without it.
CREATE FUNCTION rag_community_forget_thread(p_guild text, p_thread text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_guild IS NULL THEN
        RETURN;
    END IF;
    DELETE FROM documents d USING collections c
     WHERE c.id = d.collection_id AND c.name = 'community-' || p_guild
       AND d.source = 'community' AND d.url LIKE '%/' || p_thread;
    PERFORM rag_community_enqueue(p_guild, p_thread);
END $$;

-- Erases messages by id: users' messages (and the /ask command that
-- stored one), the bot's answers to them (delivered ones keep their
-- Discord id, so nothing is sent twice, but lose text and sources;
-- undelivered ones are dropped), their gaps, answer jobs and queued
-- reactions. A deleted bot message loses its text too. Returns the
-- number of users' messages erased.
CREATE FUNCTION rag_erase_messages(p_ids text[]) RETURNS int
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
    DELETE FROM jobs
     WHERE kind = 'answer' AND state <> 'running'
       AND payload->>'message_id' = ANY (p_ids);
    DELETE FROM gaps WHERE message_id = ANY (p_ids);
    DELETE FROM deliveries
     WHERE target_id = ANY (p_ids) AND state <> 'done';
    DELETE FROM interactions
     WHERE 'ask-' || interaction_id = ANY (p_ids);
    DELETE FROM messages
     WHERE from_bot AND discord_message_id IS NULL
       AND reply_to = ANY (p_ids);
    UPDATE messages SET content = '', sources = NULL, last_error = NULL
     WHERE from_bot AND (reply_to = ANY (p_ids)
                         OR discord_message_id = ANY (p_ids));
    DELETE FROM messages
     WHERE NOT from_bot AND message_id = ANY (p_ids) AND edit_of IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM messages WHERE NOT from_bot AND message_id = ANY (p_ids);
    RETURN n;
END $$;

-- A deleted thread: the row and everything hanging off it (messages,
-- votes, gaps and deliveries cascade; the threads trigger enqueues the
-- community sync when it was solved), its jobs and commands run in it.
CREATE FUNCTION rag_erase_thread(p_thread text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    g text;
    n int;
BEGIN
    SELECT guild_id INTO g FROM threads WHERE thread_id = p_thread;
    INSERT INTO erased_messages (message_id)
    SELECT message_id FROM messages
     WHERE thread_id = p_thread AND NOT from_bot
    UNION SELECT p_thread WHERE g IS NOT NULL
    ON CONFLICT DO NOTHING;
    DELETE FROM jobs
     WHERE kind = 'answer' AND state <> 'running'
       AND payload->>'thread_id' = p_thread;
    DELETE FROM interactions WHERE channel_id = p_thread;
    IF g IS NOT NULL THEN
        PERFORM rag_community_forget_thread(g, p_thread);
    END IF;
    DELETE FROM threads WHERE thread_id = p_thread;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The bot removed from a guild: every thread of it, its commands and
-- ban notices. The operator's configuration (guild_config, forums)
-- stays, so inviting the bot back works as before.
CREATE FUNCTION rag_erase_guild(p_guild text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    n int := 0;
    t text;
BEGIN
    FOR t IN SELECT thread_id FROM threads WHERE guild_id = p_guild LOOP
        n := n + rag_erase_thread(t);
    END LOOP;
    DELETE FROM interactions WHERE guild_id = p_guild;
    DELETE FROM ban_notices WHERE guild_id = p_guild;
    DELETE FROM deliveries WHERE dedupe_key LIKE 'ban:' || p_guild || ':%';
    -- an empty sync still writes a new generation without its threads
    DELETE FROM documents d USING collections c
     WHERE c.id = d.collection_id AND c.name = 'community-' || p_guild
       AND d.source = 'community';
    IF EXISTS (SELECT 1 FROM collections
               WHERE name = 'community-' || p_guild) THEN
        PERFORM rag_community_enqueue(p_guild, 'guild');
    END IF;
    RETURN n;
END $$;

-- rag-admin forget-user: one person's messages (as if they deleted them
-- all), their votes (counters recomputed), the commands they ran, and
-- their id wherever it names them. Threads they opened stay for the
-- others in them, without title or author. A ban stays: erasure is not
-- a way around it.
CREATE FUNCTION rag_forget_user(p_user text,
    OUT messages int, OUT threads int, OUT votes int, OUT commands int)
LANGUAGE plpgsql AS $$
DECLARE
    ids text[];
BEGIN
    DELETE FROM interactions WHERE user_id = p_user;
    GET DIAGNOSTICS commands = ROW_COUNT;
    SELECT coalesce(array_agg(message_id), '{}') INTO ids
      FROM messages m WHERE m.author_id = p_user AND NOT m.from_bot;
    messages := rag_erase_messages(ids);
    WITH f AS (DELETE FROM feedback WHERE user_id = p_user
               RETURNING thread_id, vote),
         c AS (SELECT thread_id,
                      count(*) FILTER (WHERE vote = 'up') AS up,
                      count(*) FILTER (WHERE vote = 'down') AS down
                 FROM f GROUP BY thread_id),
         u AS (UPDATE threads t
                  SET solved_votes = greatest(0, t.solved_votes - c.up),
                      failed_votes = greatest(0, t.failed_votes - c.down)
                 FROM c WHERE t.thread_id = c.thread_id)
    SELECT coalesce(sum(up + down), 0) INTO votes FROM c;
    UPDATE threads t SET solved_by = NULL WHERE t.solved_by = p_user;
    UPDATE threads t SET author_id = NULL, title = ''
     WHERE t.author_id = p_user;
    GET DIAGNOSTICS threads = ROW_COUNT;
    DELETE FROM ban_notices WHERE user_id = p_user;
    DELETE FROM deliveries WHERE dedupe_key LIKE 'ban:%:' || p_user;
END $$;
