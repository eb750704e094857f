-- ngx_rag schema, version 1. Applied by `rag-admin migrate` inside one
-- transaction; later changes go in new numbered files, never here.

-- Documentation collections. The search index for a collection is an
-- immutable file; index_generation is bumped each time a new one is
-- renamed into place, and nginx workers re-map when they see it change.
CREATE TABLE collections (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    description      text NOT NULL DEFAULT '',
    -- how ingestion finds pages: {"type":"site","url":...,"include":[...]}
    source           jsonb NOT NULL DEFAULT '{}',
    url_template     text,
    index_generation bigint NOT NULL DEFAULT 0,
    index_path       text,
    indexed_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
    id            bigserial PRIMARY KEY,
    collection_id bigint NOT NULL REFERENCES collections ON DELETE CASCADE,
    url           text NOT NULL,
    title         text NOT NULL DEFAULT '',
    source        text NOT NULL DEFAULT 'docs',   -- docs | upload | community
    tags          text[] NOT NULL DEFAULT '{}',
    body          text NOT NULL DEFAULT '',       -- Markdown
    content_hash  text NOT NULL DEFAULT '',       -- hex SHA-256 of body
    etag          text,
    last_modified text,
    fetched_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (collection_id, url)
);

CREATE TABLE chunks (
    id           bigserial PRIMARY KEY,
    document_id  bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    ordinal      int NOT NULL,
    heading_path text NOT NULL DEFAULT '',        -- "Guide > Install > Debian"
    anchor       text NOT NULL DEFAULT '',        -- "install-debian"
    body         text NOT NULL,
    token_count  int NOT NULL DEFAULT 0,
    embedding    real[],                          -- NULL until embedded
    embed_model  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, ordinal)
);
CREATE INDEX chunks_unembedded ON chunks (document_id) WHERE embedding IS NULL;

-- Per-guild configuration, re-read by the bot without a restart.
CREATE TABLE guild_config (
    guild_id           text PRIMARY KEY,
    logging_channel_id text,
    mod_role_id        text,
    helper_role_id     text,                      -- pinged on abstain
    banned_user_ids    text[] NOT NULL DEFAULT '{}',
    answer_threshold   real,                      -- NULL: worker default
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE guild_forums (
    guild_id         text NOT NULL REFERENCES guild_config ON DELETE CASCADE,
    forum_channel_id text NOT NULL,
    collection       text NOT NULL REFERENCES collections (name) ON UPDATE CASCADE,
    PRIMARY KEY (guild_id, forum_channel_id)
);

-- Discord ids are snowflakes kept as text: they overflow nothing and
-- compare exactly, as in the original schema.
CREATE TABLE threads (
    thread_id            text PRIMARY KEY,
    guild_id             text,
    forum_channel_id     text,
    title                text,
    collection           text REFERENCES collections (name) ON UPDATE CASCADE,
    open                 boolean NOT NULL DEFAULT true,
    solved               boolean NOT NULL DEFAULT false,
    solved_by            text,
    solved_at            timestamptz,
    thread_controller_id text UNIQUE,
    author_id            text,
    solved_votes         int NOT NULL DEFAULT 0,
    failed_votes         int NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Messages double as the reply outbox: bot rows start processed = false
-- and the bot claims them with a lease (delivery_*), posts with a nonce,
-- then records discord_message_id and processed = true.
CREATE TABLE messages (
    thread_id          text NOT NULL REFERENCES threads ON DELETE CASCADE,
    message_id         text NOT NULL,
    author_id          text,
    content            text NOT NULL DEFAULT '',
    from_bot           boolean NOT NULL DEFAULT false,
    first_message      boolean NOT NULL DEFAULT false,
    mentions_bot       boolean NOT NULL DEFAULT false,
    replies_to_bot     boolean NOT NULL DEFAULT false,
    sources            jsonb,                     -- [{n,url,title,heading,score,chunk_id}]
    abstained          boolean NOT NULL DEFAULT false,
    processed          boolean NOT NULL DEFAULT false,
    reply_to           text,                      -- message this bot row answers
    delivery_attempts  int NOT NULL DEFAULT 0,
    lease_until        timestamptz,
    locked_by          text,
    last_error         text,
    discord_message_id text,
    delivered_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_id, message_id)
);
CREATE INDEX messages_outbox ON messages (created_at)
    WHERE from_bot AND NOT processed;
CREATE INDEX messages_thread_order ON messages (thread_id, created_at);

-- The job queue. dedupe_key makes enqueueing idempotent: the SQL trigger
-- and the Hasura webhook use the same key for the same message.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('answer', 'ingest', 'reindex', 'embed')),
    payload      jsonb NOT NULL DEFAULT '{}',
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'retry', 'done', 'dead')),
    priority     int NOT NULL DEFAULT 100,
    attempts     int NOT NULL DEFAULT 0,
    max_attempts int NOT NULL DEFAULT 5,
    run_at       timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    locked_by    text,
    last_error   text,
    dedupe_key   text UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX jobs_ready ON jobs (priority, run_at, id)
    WHERE state IN ('queued', 'retry');
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';

-- One row per user per vote on a controller message: re-adding the same
-- reaction is a no-op, removing it deletes the row.
CREATE TABLE feedback (
    thread_id  text NOT NULL REFERENCES threads ON DELETE CASCADE,
    user_id    text NOT NULL,
    vote       text NOT NULL CHECK (vote IN ('up', 'down')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_id, user_id, vote)
);

-- Questions the bot abstained on (or that were voted down): the gap report.
CREATE TABLE gaps (
    id         bigserial PRIMARY KEY,
    thread_id  text REFERENCES threads ON DELETE CASCADE,
    message_id text,
    collection text,
    question   text NOT NULL,
    reason     text NOT NULL,                     -- abstain | downvote | unsolved
    top_score  real,
    top_url    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (thread_id, message_id, reason)
);

-- Users told once that they are banned (no reply per message).
CREATE TABLE ban_notices (
    guild_id    text NOT NULL,
    user_id     text NOT NULL,
    notified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, user_id)
);

CREATE FUNCTION rag_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER collections_touch BEFORE UPDATE ON collections
    FOR EACH ROW EXECUTE FUNCTION rag_touch_updated_at();
CREATE TRIGGER documents_touch BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION rag_touch_updated_at();
CREATE TRIGGER guild_config_touch BEFORE UPDATE ON guild_config
    FOR EACH ROW EXECUTE FUNCTION rag_touch_updated_at();
CREATE TRIGGER threads_touch BEFORE UPDATE ON threads
    FOR EACH ROW EXECUTE FUNCTION rag_touch_updated_at();
CREATE TRIGGER messages_touch BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION rag_touch_updated_at();
CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION rag_touch_updated_at();

-- Enqueue one job idempotently and wake the workers. NOTIFY is only a
-- hint (delivered on commit, lost if nobody listens): workers also poll.
CREATE FUNCTION rag_enqueue(p_kind text, p_payload jsonb, p_dedupe text,
                            p_priority int DEFAULT 100)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO jobs (kind, payload, dedupe_key, priority)
    VALUES (p_kind, p_payload, p_dedupe, p_priority)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        SELECT id INTO v_id FROM jobs WHERE dedupe_key = p_dedupe;
    ELSE
        PERFORM pg_notify('rag_jobs', p_kind);
    END IF;
    RETURN v_id;
END $$;

-- A user message warrants an answer when it opens the thread, mentions
-- the bot or replies to it, and the thread is still open and unsolved.
CREATE FUNCTION rag_message_wants_answer(m messages) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT m.from_bot
       AND (m.first_message OR m.mentions_bot OR m.replies_to_bot)
       AND EXISTS (SELECT 1 FROM threads t
                   WHERE t.thread_id = m.thread_id AND t.open AND NOT t.solved)
$$;

CREATE FUNCTION rag_answer_dedupe_key(p_thread text, p_message text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'answer:' || p_thread || ':' || p_message
$$;

CREATE FUNCTION rag_messages_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF rag_message_wants_answer(NEW) THEN
        PERFORM rag_enqueue('answer',
            jsonb_build_object('thread_id', NEW.thread_id,
                               'message_id', NEW.message_id),
            rag_answer_dedupe_key(NEW.thread_id, NEW.message_id), 50);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_enqueue AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION rag_messages_enqueue();

-- Bot replies ready for delivery wake the bot the same way.
CREATE FUNCTION rag_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.from_bot AND NOT NEW.processed THEN
        PERFORM pg_notify('rag_outbox', NEW.thread_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_outbox_notify AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION rag_outbox_notify();

-- Slash commands that arrived over the module's HTTP interactions
-- endpoint and were deferred (type 5): the bot finishes them with a
-- follow-up through the interaction token (valid 15 minutes).
CREATE TABLE interactions (
    id             bigserial PRIMARY KEY,
    interaction_id text NOT NULL UNIQUE,
    application_id text NOT NULL,
    token          text NOT NULL,
    guild_id       text,
    channel_id     text,
    user_id        text,
    member_roles   text[] NOT NULL DEFAULT '{}',
    command        text NOT NULL,
    options        jsonb NOT NULL DEFAULT '{}',
    state          text NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'done', 'failed')),
    lease_until    timestamptz,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interactions_queued ON interactions (created_at)
    WHERE state IN ('queued', 'running');

CREATE FUNCTION rag_interactions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rag_interactions', NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER interactions_notify AFTER INSERT ON interactions
    FOR EACH ROW EXECUTE FUNCTION rag_interactions_notify();
