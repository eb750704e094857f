-- Site boilerplate (owned by ingest). Lines repeated on most pages of a
-- collection are dropped before chunking (worker/ingest_boiler.h); the
-- signature of that set is kept so a run can tell when it changed and
-- every page must be re-chunked (chunked_hash cleared), and when it did
-- not (an unchanged re-crawl re-chunks nothing).
ALTER TABLE collections ADD COLUMN IF NOT EXISTS boilerplate_sig text NOT NULL DEFAULT '';
