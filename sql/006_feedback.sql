-- Feedback loop (owned by admin/dashboard): indexes for the dashboard's
-- time-window queries and the gap report (rag-admin gaps, /api/gaps).
-- Each runs once inside the migration transaction; IF NOT EXISTS keeps
-- a re-run harmless.
CREATE INDEX IF NOT EXISTS threads_created ON threads (created_at);
CREATE INDEX IF NOT EXISTS threads_guild_created ON threads (guild_id, created_at);
CREATE INDEX IF NOT EXISTS threads_solved_at ON threads (solved_at)
    WHERE solved_at IS NOT NULL;
-- answers per day, and "first answer" per thread
CREATE INDEX IF NOT EXISTS messages_bot_answers ON messages (thread_id, created_at)
    WHERE from_bot AND NOT abstained;
CREATE INDEX IF NOT EXISTS gaps_created ON gaps (created_at);
