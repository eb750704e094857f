-- Document expansion (issue 16.1, owned by rank/expand): the terms a
-- manual's own index pages (Sphinx genindex, DocBook bookindex) file each
-- section under, harvested at ingest (lib/rag_expand.c; the index pages
-- themselves are never stored as documents). The index writer adds a
-- chunk's terms to its heading field: the chunk holding the anchor of
-- page_url, or the page's first chunk when no chunk has that anchor.
-- A crawl replaces its collection's rows; deleting the collection
-- removes them.
CREATE TABLE IF NOT EXISTS expansions (
    collection_id bigint NOT NULL REFERENCES collections (id)
        ON DELETE CASCADE,
    page_url      text NOT NULL, -- the stored document's URL, no fragment
    anchor        text NOT NULL DEFAULT '', -- '' = the page itself
    term          text NOT NULL,
    PRIMARY KEY (collection_id, page_url, anchor, term)
);
