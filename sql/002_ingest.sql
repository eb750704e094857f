-- Ingestion bookkeeping (owned by ingest). chunked_hash is the
-- content_hash the document's chunks were built from: chunks are stale
-- (or missing) when it differs, which is how the "rechunk" job finds the
-- documents uploaded through POST /upload_documents.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS chunked_hash text NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS documents_stale ON documents (collection_id)
    WHERE chunked_hash <> content_hash OR content_hash = '';
-- In-scope links a crawled page had, so a re-crawl that gets 304 Not
-- Modified can still follow them (link-following discovery).
ALTER TABLE documents ADD COLUMN IF NOT EXISTS out_links text[] NOT NULL DEFAULT '{}';
