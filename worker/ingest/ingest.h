/*
 * ingest — turn documentation into documents + chunks rows, embed new
 * chunks, and rebuild the collection's index (rag_reindex).
 *
 * Sources: a website (robots.txt first — 4xx allows all, 5xx or no answer
 * stops the crawl; then the sitemap (given, from robots.txt, or
 * /sitemap.xml), else same-site link following; see crawl.h),
 * a directory of Markdown/MDX files with a URL template, a JSON / JSONL
 * file of {url, title, body}, or "rechunk" (documents already in the
 * table whose chunks are missing or stale, e.g. uploads).
 *
 * Incremental: a page whose body hash equals the stored content_hash and
 * chunked_hash (or that answered 304 to the stored validators) is not
 * re-chunked or re-embedded; a changed page's chunks are rebuilt and
 * chunks whose text did not change keep their embedding. Documents of the
 * collection that the source no longer has are deleted — unless that is
 * more than half of them and force is off (then nothing is deleted and
 * the run fails), or the crawl was partial (errors, max_pages reached).
 *
 * Used by rag-ingest (worker/rag_ingest_main.c) and by the worker daemon
 * for 'ingest' jobs (rag_ingest_run_job). All strings in rag_ingest_opts
 * are borrowed.
 */
#ifndef INGEST_H
#define INGEST_H

#include "rag_conf.h"
#include "rag_embed.h"

#include <libpq-fe.h>
#include <stddef.h>

enum ingest_source {
    INGEST_SITE,
    INGEST_DIR,
    INGEST_JSON,
    INGEST_RECHUNK,
    INGEST_REINDEX_ONLY
};

#define INGEST_MAX_PREFIXES 32

typedef struct {
    const char *collection;
    enum ingest_source type;
    const char *site;    /* INGEST_SITE start URL */
    const char *sitemap; /* optional sitemap URL */
    /* URL prefixes in scope; none: the start URL's folder */
    const char *include[INGEST_MAX_PREFIXES];
    size_t ninclude;
    const char *exclude[INGEST_MAX_PREFIXES];
    size_t nexclude;
    const char *dir;          /* INGEST_DIR */
    const char *url_template; /* "https://x/docs/{path}" */
    const char *json;         /* INGEST_JSON file */
    const char *selector;     /* HTML main-content selector */
    int allow_private;
    int force;
    double delay;       /* per-host seconds, < 0: conf/default */
    long max_pages;     /* 0: conf/default (10000) */
    int concurrency;    /* requests in flight; 0: conf (4) */
    int progress;       /* 1: progress bar on stderr */
    int keep_generated; /* 1: also index generated index and source-listing
                           pages (genindex, py-modindex, search, _modules/,
                           _sources/) and tables of contents, skipped by
                           default */
} rag_ingest_opts;

typedef struct {
    long fetched, unchanged, added, changed, deleted, failed, skipped;
    long notfound;   /* 404/410 answers (each logged with its referrer) */
    long duplicates; /* pages whose content another URL already has */
    long unvisited;  /* URLs found but not fetched: page limit reached */
    long chunks, embedded;
    double seconds;
    unsigned long long generation;
    int partial;    /* the crawl stopped at the page limit (max_pages) */
    long max_pages; /* the limit in force */
} rag_ingest_stats;

/* Runs one ingestion. 0, or -1 with err, or RAG_INGEST_BUSY (with err)
 * when another ingest of the collection holds it (nothing was done).
 * stats is filled either way. One page never fails the run: a page that
 * cannot be fetched, decoded or stored is logged and counted in failed,
 * and the rest is indexed. A crawl cut short by the page limit returns 0
 * with st->partial set (nothing is deleted then; rag-ingest exits 3). */
#define RAG_INGEST_BUSY (-2)
int rag_ingest_run(PGconn *db, rag_conf *conf, const rag_ingest_opts *o,
                   rag_ingest_stats *st, char *err, size_t errlen);

/* Worker entry for 'ingest' jobs. payload: {"collection":"x","source":
 * {"type":"site"|"dir"|"json"|"rechunk", "url":..., "sitemap":...,
 * "include":[...], "exclude":[...], "selector":..., "dir":...,
 * "url_template":..., "file":...}, "force":false}. Without "source", the
 * source recorded by the last successful site/dir/json run of the
 * collection (collections.source) is used again. Private addresses are
 * allowed only by the conf key ingest_allow_private (never by the job),
 * and dir/json files only below the conf key ingest_file_root.
 * 0, or -1 with err, or RAG_INGEST_BUSY, or RAG_INGEST_BAD_JOB (with err)
 * when the payload can never work as written (bad JSON, no source, an
 * unknown source type, a file outside ingest_file_root): the worker
 * dead-letters it at once instead of retrying it. */
#define RAG_INGEST_BAD_JOB (-3)
int rag_ingest_run_job(PGconn *db, rag_conf *conf, const char *payload_json,
                       char *err, size_t errlen);

/* Embeds every chunk of collection coll_id (its numeric id, as text)
 * that has no embedding yet, in batches, each input being the chunk's
 * breadcrumb + body cut to the embedding input limit. Adds the number
 * embedded to *embedded when not NULL. 0, or -1 with err. Shared by
 * ingestion and the community-answers sync. */
int rag_ingest_embed_pending(PGconn *db, const char *coll_id,
                             const rag_embed_conf *ec, long *embedded,
                             char *err, size_t errlen);

/* One summary line: "pages fetched=.. unchanged=.. ..." */
void rag_ingest_format_stats(const rag_ingest_stats *st, char *out,
                             size_t outlen);

#endif
