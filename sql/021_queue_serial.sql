-- One running job per collection (owned by queue: lib/rag_store_jobs.c).
--
-- Jobs that rewrite a collection (ingest, reindex, and the community
-- sync of a guild's community-<guild> collection) carry a serial_key.
-- The claim takes a keyed job only when no job with its key is running
-- and it is the first ready one with that key, so back-to-back uploads
-- wait their turn, queued, instead of failing on the ingest lock and
-- burning attempts. The unique index is the guarantee behind that check:
-- two claimers racing for one key cannot both win.
ALTER TABLE jobs ADD COLUMN serial_key text GENERATED ALWAYS AS (
    CASE WHEN kind IN ('ingest', 'reindex')
         THEN 'collection:' || (payload->>'collection')
         WHEN kind = 'community'
         THEN 'collection:community-' || (payload->>'guild')
    END) STORED;

-- Jobs of one collection left running together by the old code (a
-- worker that died mid-ingest while another started): the later ones go
-- back to the queue, attempt given back.
UPDATE jobs j
   SET state = 'retry', run_at = now(), lease_until = NULL,
       attempts = greatest(attempts - 1, 0),
       last_error = 'requeued: one job per collection at a time'
 WHERE state = 'running' AND serial_key IS NOT NULL
   AND EXISTS (SELECT 1 FROM jobs k
                WHERE k.serial_key = j.serial_key AND k.state = 'running'
                  AND k.id < j.id);

CREATE UNIQUE INDEX jobs_serial_running ON jobs (serial_key)
    WHERE state = 'running' AND serial_key IS NOT NULL;
CREATE INDEX jobs_serial_ready ON jobs (serial_key, priority, run_at, id)
    WHERE state IN ('queued', 'retry') AND serial_key IS NOT NULL;

-- When a keyed job stops running, the next one of its collection is
-- claimable: wake the workers rather than wait for a poll tick.
CREATE FUNCTION rag_jobs_serial_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rag_jobs', NEW.serial_key);
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_serial_notify AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (OLD.state = 'running' AND NEW.state <> 'running'
          AND NEW.serial_key IS NOT NULL)
    EXECUTE FUNCTION rag_jobs_serial_notify();

-- Enqueue one job idempotently and wake the workers. A collection job
-- (ingest, reindex) identical to one still waiting, unclaimed, joins it:
-- that job reads the collection's documents when it runs, so it covers
-- this request too (an upload's documents are committed with this
-- call). FOR UPDATE keeps a worker from claiming it before this
-- transaction commits; if a worker claimed it first, the row no longer
-- matches and a new job is enqueued. Returns the job's id either way.
CREATE OR REPLACE FUNCTION rag_enqueue(p_kind text, p_payload jsonb,
                                       p_dedupe text,
                                       p_priority int DEFAULT 100)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT id INTO v_id FROM jobs WHERE dedupe_key = p_dedupe;
    IF FOUND THEN
        RETURN v_id;
    END IF;
    IF p_kind IN ('ingest', 'reindex') THEN
        SELECT id INTO v_id FROM jobs
         WHERE serial_key = 'collection:' || (p_payload->>'collection')
           AND state = 'queued' AND kind = p_kind AND payload = p_payload
         ORDER BY id LIMIT 1
           FOR UPDATE;
        IF FOUND THEN
            UPDATE jobs SET priority = p_priority
             WHERE id = v_id AND priority > p_priority;
            RETURN v_id;
        END IF;
    END IF;
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
