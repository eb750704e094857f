-- Queue liveness (owned by queue: lib/rag_store_jobs.c).
--
-- claim_token is the id of the transaction that claimed the job: every
-- later change to a running job is fenced by (id, claim_token), so a
-- worker that lost the job (lease expired, session gone, released) can
-- no longer complete, fail, extend or release it. attempts alone is not
-- a fence: releasing a job gives its attempt back.
--
-- owner_pid / owner_started identify the database session of the worker
-- that claimed it (pg_stat_activity.pid and backend_start). When that
-- session no longer exists — the worker crashed, was killed, or lost its
-- connection — the job is rescued at once instead of when its lease
-- expires. NULL (a worker behind a transaction-mode pooler, where the
-- backend is not the worker's): the lease alone decides.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS claim_token bigint;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS owner_pid int;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS owner_started timestamptz;
