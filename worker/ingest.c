#include "ingest.h"
#include "rag_time.h"

#include "crawl.h"
#include "crawl_pool.h"
#include "ingest_src.h"
#include "rag_buf.h"
#include "rag_chunk.h"
#include "rag_db.h"
#include "rag_embed.h"
#include "rag_html.h"
#include "rag_json.h"
#include "rag_log.h"
#include "rag_reindex.h"
#include "rag_tokens.h"
#include "rag_url.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define EMBED_BATCH 256
/* the API takes 8,192 tokens per input; the estimate can be ~11% low */
#define EMBED_MAX_INPUT_TOKENS 7000
#define DEFAULT_MAX_PAGES 10000

/* ---- existing documents -------------------------------------------------- */

typedef struct {
    char *url;
    char *id;
    char *content_hash, *chunked_hash, *title, *etag, *lastmod, *source;
    int seen;
} doc_row;

typedef struct {
    doc_row *rows;
    size_t n;
    size_t *slots; /* open addressing over rows, (size_t)-1 = empty */
    size_t nslots;
} doc_map;

static uint64_t
fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static doc_row *
map_get(doc_map *m, const char *url)
{
    if (m->nslots == 0)
        return NULL;
    for (size_t i = fnv(url) % m->nslots;; i = (i + 1) % m->nslots) {
        size_t k = m->slots[i];
        if (k == (size_t)-1)
            return NULL;
        if (strcmp(m->rows[k].url, url) == 0)
            return &m->rows[k];
    }
}

static void
map_free(doc_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        doc_row *r = &m->rows[i];
        free(r->url);
        free(r->id);
        free(r->content_hash);
        free(r->chunked_hash);
        free(r->title);
        free(r->etag);
        free(r->lastmod);
        free(r->source);
    }
    free(m->rows);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static char *
dupv(PGresult *r, int i, int j)
{
    return strdup(PQgetisnull(r, i, j) ? "" : PQgetvalue(r, i, j));
}

static int
map_load(PGconn *db, const char *coll_id, doc_map *m)
{
    const char *p[1] = {coll_id};
    PGresult *r =
        rag_db_query(db,
                     "SELECT url, id, content_hash, chunked_hash, title, "
                     "coalesce(etag,''), coalesce(last_modified,''), source "
                     "FROM documents WHERE collection_id = $1",
                     1, p);
    int rc = -1;

    memset(m, 0, sizeof(*m));
    if (r == NULL)
        return -1;
    m->n = (size_t)PQntuples(r);
    m->nslots = m->n * 2 + 16;
    m->rows = calloc(m->n ? m->n : 1, sizeof(doc_row));
    m->slots = malloc(m->nslots * sizeof(size_t));
    if (!m->rows || !m->slots)
        goto done;
    memset(m->slots, 0xff, m->nslots * sizeof(size_t));
    for (size_t i = 0; i < m->n; i++) {
        doc_row *d = &m->rows[i];
        d->url = dupv(r, (int)i, 0);
        d->id = dupv(r, (int)i, 1);
        d->content_hash = dupv(r, (int)i, 2);
        d->chunked_hash = dupv(r, (int)i, 3);
        d->title = dupv(r, (int)i, 4);
        d->etag = dupv(r, (int)i, 5);
        d->lastmod = dupv(r, (int)i, 6);
        d->source = dupv(r, (int)i, 7);
        if (!d->url || !d->id || !d->content_hash || !d->chunked_hash ||
            !d->title || !d->etag || !d->lastmod || !d->source)
            goto done;
        size_t s = fnv(d->url) % m->nslots;
        while (m->slots[s] != (size_t)-1)
            s = (s + 1) % m->nslots;
        m->slots[s] = i;
    }
    rc = 0;
done:
    PQclear(r);
    return rc;
}

/* ---- the run ----------------------------------------------------------------
 */

typedef struct {
    PGconn *db;
    rag_conf *conf;
    const rag_ingest_opts *o;
    rag_ingest_stats *st;
    char coll_id[32];
    doc_map map;
    rag_chunk_opts copts;
    int partial; /* the source was not read completely */
    double t0;
    long progress_total;
} run_t;

static void
sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;

    EVP_Digest(s, n, md, &len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
progress(run_t *r, const char *what)
{
    rag_ingest_stats *st = r->st;
    long done = st->fetched + st->failed + st->skipped;
    long total = r->progress_total > done ? r->progress_total : done;
    int width = 30, fill;

    if (!r->o->progress)
        return;
    fill = total ? (int)(width * done / total) : 0;
    fprintf(stderr,
            "\r[%.*s%*s] %ld/%ld new=%ld changed=%ld unchanged=%ld %s"
            "\033[K",
            fill, "##############################", width - fill, "", done,
            total, st->added, st->changed, st->unchanged, what);
    fflush(stderr);
}

/* Appends s as a quoted element of a Postgres array literal. */
static int
pg_array_elem(rag_buf *b, const char *s)
{
    if (rag_buf_putc(b, '"'))
        return -1;
    for (; *s; s++) {
        if ((*s == '"' || *s == '\\') && rag_buf_putc(b, '\\'))
            return -1;
        if (rag_buf_putc(b, *s))
            return -1;
    }
    return rag_buf_putc(b, '"');
}

/* Rebuilds the chunks of one document inside the caller's transaction;
 * chunks with unchanged text keep their embeddings. */
static int
rechunk_doc(run_t *r, const char *doc_id, const char *title, const char *body,
            const char *hash)
{
    rag_chunks cs = {NULL, 0};
    rag_buf hp, an, bd, tk;
    const char *p1[1] = {doc_id};
    int rc = -1;

    rag_buf_init(&hp, 0);
    rag_buf_init(&an, 0);
    rag_buf_init(&bd, 0);
    rag_buf_init(&tk, 0);
    if (rag_chunk_markdown(body, strlen(body), title, &r->copts, &cs) != 0)
        goto done;
    if (rag_db_exec(r->db,
                    "UPDATE chunks SET ordinal = -ordinal - 1 "
                    "WHERE document_id = $1 AND ordinal >= 0",
                    1, p1) != 0)
        goto done;
    /* all chunks of the page in one statement: four parallel arrays */
    for (size_t i = 0; i < cs.n; i++) {
        const char *sep = i ? "," : "{";
        if (rag_buf_puts(&hp, sep) ||
            pg_array_elem(&hp, cs.v[i].heading_path) ||
            rag_buf_puts(&an, sep) || pg_array_elem(&an, cs.v[i].anchor) ||
            rag_buf_puts(&bd, sep) || pg_array_elem(&bd, cs.v[i].text) ||
            rag_buf_printf(&tk, "%s%zu", sep, cs.v[i].tokens))
            goto done;
    }
    if (cs.n) {
        const char *p[5];
        if (rag_buf_putc(&hp, '}') || rag_buf_putc(&an, '}') ||
            rag_buf_putc(&bd, '}') || rag_buf_putc(&tk, '}'))
            goto done;
        p[0] = doc_id;
        p[1] = hp.data;
        p[2] = an.data;
        p[3] = bd.data;
        p[4] = tk.data;
        if (rag_db_exec(r->db,
                        "INSERT INTO chunks (document_id, ordinal, "
                        "heading_path, anchor, body, token_count) "
                        "SELECT $1, t.n - 1, t.h, t.a, t.b, t.k FROM "
                        "unnest($2::text[], $3::text[], $4::text[], "
                        "$5::int[]) WITH ORDINALITY AS t(h, a, b, k, n)",
                        5, p) != 0)
            goto done;
    }
    if (rag_db_exec(r->db,
                    "UPDATE chunks n SET embedding = o.embedding, "
                    "embed_model = o.embed_model FROM chunks o "
                    "WHERE n.document_id = $1 AND o.document_id = $1 "
                    "AND n.ordinal >= 0 AND o.ordinal < 0 "
                    "AND o.embedding IS NOT NULL AND n.body = o.body",
                    1, p1) != 0 ||
        rag_db_exec(r->db,
                    "DELETE FROM chunks WHERE document_id = $1 "
                    "AND ordinal < 0",
                    1, p1) != 0)
        goto done;
    const char *p2[2] = {doc_id, hash};
    if (rag_db_exec(r->db,
                    "UPDATE documents SET chunked_hash = $2, "
                    "content_hash = $2 WHERE id = $1",
                    2, p2) != 0)
        goto done;
    r->st->chunks += (long)cs.n;
    rc = 0;
done:
    rag_buf_free(&hp);
    rag_buf_free(&an);
    rag_buf_free(&bd);
    rag_buf_free(&tk);
    rag_chunks_free(&cs);
    return rc;
}

/* Stores one page. Returns 0 (counted as new/changed/unchanged) or -1. */
static int
store_doc(run_t *r, const char *url, const char *title, const char *body,
          const char *etag, const char *lastmod, const char *source,
          const char *links)
{
    char hash[65];
    doc_row *d = map_get(&r->map, url);
    PGresult *res;
    int rc = -1;

    sha256_hex(body, strlen(body), hash);
    if (d) {
        d->seen = 1;
        if (strcmp(d->content_hash, hash) == 0 &&
            strcmp(d->chunked_hash, hash) == 0 &&
            strcmp(d->title, title) == 0) {
            const char *p[4] = {d->id, etag, lastmod, links};
            r->st->unchanged++;
            return rag_db_exec(r->db,
                               "UPDATE documents SET fetched_at = now(), "
                               "etag = $2, last_modified = $3, "
                               "out_links = coalesce(string_to_array($4, "
                               "E'\\n'), out_links) WHERE id = $1",
                               4, p);
        }
    }
    if (rag_db_begin(r->db) != 0)
        return -1;
    const char *p[8] = {r->coll_id, url,     title,  body,
                        etag,       lastmod, source, links};
    res = rag_db_query(
        r->db,
        "INSERT INTO documents (collection_id, url, title, body, etag, "
        "last_modified, source, fetched_at, out_links) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, now(), "
        "coalesce(string_to_array($8, E'\\n'), '{}')) "
        "ON CONFLICT (collection_id, url) DO UPDATE SET title = $3, "
        "body = $4, etag = $5, last_modified = $6, source = $7, "
        "fetched_at = now(), out_links = coalesce(string_to_array($8, "
        "E'\\n'), '{}') RETURNING id",
        8, p);
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        goto fail;
    }
    if (rechunk_doc(r, PQgetvalue(res, 0, 0), title, body, hash) != 0) {
        PQclear(res);
        goto fail;
    }
    PQclear(res);
    if (rag_db_commit(r->db) != 0)
        goto fail;
    if (d)
        r->st->changed++;
    else
        r->st->added++;
    return 0;
fail:
    rag_db_rollback(r->db);
    return rc;
}

/* Marks a page as present without touching it (304, transient error). */
static void
keep_doc(run_t *r, const char *url, int not_modified)
{
    doc_row *d = map_get(&r->map, url);

    if (d == NULL)
        return;
    d->seen = 1;
    if (not_modified) {
        const char *p[1] = {d->id};
        r->st->unchanged++;
        rag_db_exec(r->db,
                    "UPDATE documents SET fetched_at = now() WHERE id = $1", 1,
                    p);
    }
}

static int
delete_missing(run_t *r, const char *source, char *err, size_t errlen)
{
    size_t total = 0, gone = 0;

    for (size_t i = 0; i < r->map.n; i++) {
        if (strcmp(r->map.rows[i].source, source) != 0)
            continue;
        total++;
        if (!r->map.rows[i].seen)
            gone++;
    }
    if (gone == 0)
        return 0;
    if (r->partial) {
        rag_warn("msg=\"source read partially, nothing deleted\" "
                 "missing=%zu",
                 gone);
        return 0;
    }
    if (gone * 2 > total && !r->o->force) {
        snprintf(err, errlen,
                 "refusing to delete %zu of %zu documents (more than half); "
                 "rerun with --force if the site really shrank",
                 gone, total);
        return -1;
    }
    for (size_t i = 0; i < r->map.n; i++) {
        doc_row *d = &r->map.rows[i];
        if (d->seen || strcmp(d->source, source) != 0)
            continue;
        const char *p[1] = {d->id};
        if (rag_db_exec(r->db, "DELETE FROM documents WHERE id = $1", 1, p) !=
            0) {
            snprintf(err, errlen, "cannot delete a document");
            return -1;
        }
        rag_info("msg=\"document removed\" url=\"%s\"", d->url);
        r->st->deleted++;
    }
    return 0;
}

int
rag_ingest_embed_pending(PGconn *db, const char *coll_id,
                         const rag_embed_conf *ec, long *embedded, char *err,
                         size_t errlen)
{
    const char *p[1] = {coll_id};

    for (;;) {
        PGresult *res =
            rag_db_query(db,
                         "SELECT c.id, c.heading_path, c.body FROM chunks c "
                         "JOIN documents d ON d.id = c.document_id "
                         "WHERE d.collection_id = $1 AND c.embedding IS NULL "
                         "ORDER BY c.id LIMIT 256",
                         1, p);
        int n, rc = -1;
        char **texts = NULL;
        float *vec = NULL;
        uint32_t dims = 0;
        rag_buf arr;

        if (res == NULL) {
            snprintf(err, errlen, "cannot read chunks");
            return -1;
        }
        n = PQntuples(res);
        if (n == 0) {
            PQclear(res);
            return 0;
        }
        rag_buf_init(&arr, 0);
        texts = calloc((size_t)n, sizeof(char *));
        if (texts == NULL)
            goto batch_done;
        for (int i = 0; i < n; i++) {
            /* the breadcrumb gives the vector its context */
            const char *hp = PQgetvalue(res, i, 1), *b = PQgetvalue(res, i, 2);
            size_t len = strlen(hp) + strlen(b) + 3;
            if ((texts[i] = malloc(len)) == NULL)
                goto batch_done;
            snprintf(texts[i], len, "%s\n\n%s", hp, b);
            size_t tl = strlen(texts[i]);
            while (rag_tokens_estimate(texts[i], tl) > EMBED_MAX_INPUT_TOKENS) {
                tl = tl * 3 / 4;
                while (tl && ((unsigned char)texts[i][tl] & 0xc0) == 0x80)
                    tl--;
                texts[i][tl] = '\0';
            }
        }
        if (rag_embed(ec, (const char *const *)texts, (size_t)n, &vec, &dims,
                      err, errlen) != 0)
            goto batch_done;
        for (int i = 0; i < n; i++) {
            rag_buf_reset(&arr);
            rag_buf_putc(&arr, '{');
            for (uint32_t j = 0; j < dims; j++)
                rag_buf_printf(&arr, "%s%.8g", j ? "," : "",
                               (double)vec[(size_t)i * dims + j]);
            if (rag_buf_putc(&arr, '}') != 0)
                goto batch_done;
            const char *q[3] = {PQgetvalue(res, i, 0), arr.data,
                                ec->model ? ec->model : ""};
            if (rag_db_exec(db,
                            "UPDATE chunks SET embedding = $2::real[], "
                            "embed_model = $3 WHERE id = $1",
                            3, q) != 0) {
                snprintf(err, errlen, "cannot store an embedding");
                goto batch_done;
            }
            if (embedded)
                (*embedded)++;
        }
        rc = 0;
    batch_done:
        if (texts)
            for (int i = 0; i < n; i++)
                free(texts[i]);
        free(texts);
        free(vec);
        rag_buf_free(&arr);
        PQclear(res);
        if (rc != 0)
            return -1;
    }
}

/* Embeds what the collection still lacks, when embeddings are configured. */
static int
embed_pending(run_t *r, char *err, size_t errlen)
{
    rag_embed_conf ec;

    rag_embed_conf_load(&ec, r->conf);
    if (!rag_embed_enabled(&ec))
        return 0;
    return rag_ingest_embed_pending(r->db, r->coll_id, &ec, &r->st->embedded,
                                    err, errlen);
}

/* ---- site
 * -------------------------------------------------------------------- */

typedef struct {
    char **v;
    size_t n, cap;
    char **set;
    size_t nset;
} frontier;

static int
fr_seen_add(frontier *f, const char *u)
{
    size_t i;

    if (f->nset == 0 || f->n * 2 + 2 > f->nset) {
        size_t ns = f->nset ? f->nset * 2 : 1024;
        char **set = calloc(ns, sizeof(char *));
        if (set == NULL)
            return -1;
        for (size_t k = 0; k < f->nset; k++) {
            if (!f->set[k])
                continue;
            for (i = fnv(f->set[k]) % ns; set[i]; i = (i + 1) % ns)
                ;
            set[i] = f->set[k];
        }
        free(f->set);
        f->set = set;
        f->nset = ns;
    }
    for (i = fnv(u) % f->nset; f->set[i]; i = (i + 1) % f->nset)
        if (strcmp(f->set[i], u) == 0)
            return 0;
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 256;
        char **v = realloc(f->v, nc * sizeof(*v));
        if (v == NULL)
            return -1;
        f->v = v;
        f->cap = nc;
    }
    if ((f->v[f->n] = strdup(u)) == NULL)
        return -1;
    f->set[i] = f->v[f->n];
    f->n++;
    return 1;
}

static void
fr_free(frontier *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
    free(f->set);
}

static int
in_scope(const rag_ingest_opts *o, const char *root, const char *url)
{
    if (!rag_url_same_site(url, root))
        return 0;
    for (size_t i = 0; i < o->nexclude; i++)
        if (rag_url_has_prefix(url, o->exclude[i]))
            return 0;
    if (o->ninclude == 0) {
        /* default scope: the folder of the start URL ("/docs/intro" ->
         * "/docs/"), so a start page's siblings are in */
        char dir[RAG_URL_MAX];
        const char *q = strchr(root, '?');
        size_t n = q ? (size_t)(q - root) : strlen(root);
        while (n > 0 && root[n - 1] != '/')
            n--;
        if (n == 0 || n >= sizeof(dir))
            return 0;
        memcpy(dir, root, n);
        dir[n] = '\0';
        return rag_url_has_prefix(url, dir);
    }
    for (size_t i = 0; i < o->ninclude; i++)
        if (rag_url_has_prefix(url, o->include[i]))
            return 1;
    return 0;
}

static void
polite_wait(double *last, double delay)
{
    double t = rag_time_mono_s(), wait = *last + delay - t;

    if (*last > 0 && wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - floor(wait)) * 1e9)};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    *last = rag_time_mono_s();
}

static int
follow_stored_links(run_t *r, frontier *fr, const char *root,
                    const char *doc_id)
{
    const char *p[1] = {doc_id};
    PGresult *res = rag_db_query(
        r->db, "SELECT unnest(out_links) FROM documents WHERE id = $1", 1, p);
    int rc = 0;

    if (res == NULL)
        return 0; /* nothing to follow; the crawl goes on */
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        if (in_scope(r->o, root, PQgetvalue(res, i, 0)) &&
            fr_seen_add(fr, PQgetvalue(res, i, 0)) < 0)
            rc = -1;
    PQclear(res);
    return rc;
}

static int
ingest_site(run_t *r, char *err, size_t errlen)
{
    const rag_ingest_opts *o = r->o;
    crawl_opts co;
    crawl_robots robots;
    crawl_urls sm = {0};
    frontier fr = {0};
    char root[RAG_URL_MAX], u[RAG_URL_MAX], robots_url[RAG_URL_MAX];
    double delay, last = 0;
    long max_pages, dispatched = 0;
    crawl_pool *pool = NULL;
    size_t next = 0;
    int threads;
    rag_url pu;
    int use_links, rc = -1;

    memset(&robots, 0, sizeof(robots));
    crawl_opts_default(&co);
    co.allow_private = o->allow_private;
    co.timeout_ms = rag_conf_int(r->conf, "crawl_timeout_ms", 30000);
    co.max_bytes =
        (size_t)rag_conf_int(r->conf, "crawl_max_bytes", 8L * 1024 * 1024);
    co.backoff_ms = rag_conf_int(r->conf, "crawl_backoff_ms", 500);
    delay =
        o->delay >= 0 ? o->delay : rag_conf_double(r->conf, "crawl_delay", 0.5);
    max_pages = o->max_pages > 0 ? o->max_pages
                                 : rag_conf_int(r->conf, "crawl_max_pages",
                                                DEFAULT_MAX_PAGES);
    threads = o->concurrency > 0
                  ? o->concurrency
                  : (int)rag_conf_int(r->conf, "crawl_concurrency", 4);
    if (threads < 1 || threads > 16)
        threads = 4;
    if (rag_url_normalize(o->site, root, sizeof(root)) != 0 ||
        rag_url_parse(root, &pu) != 0) {
        snprintf(err, errlen, "bad --site URL");
        goto done;
    }
    /* robots.txt first (RFC 9309): 4xx allows everything; a server error
     * or no answer means "not now", so the crawl stops */
    snprintf(robots_url, sizeof(robots_url), "%s://%s%s%s:%d/robots.txt",
             pu.scheme, pu.ipv6 ? "[" : "", pu.host, pu.ipv6 ? "]" : "",
             pu.port);
    {
        crawl_page p;
        polite_wait(&last, 0);
        if (crawl_fetch(&co, robots_url, NULL, NULL, &p) != 0) {
            snprintf(err, errlen, "%s%s",
                     strncmp(p.error, "refusing", 8) == 0
                         ? ""
                         : "robots.txt unavailable, not crawling: ",
                     p.error);
            crawl_page_free(&p);
            goto done;
        }
        if (p.status >= 500) {
            snprintf(err, errlen, "robots.txt answered HTTP %ld, not crawling",
                     p.status);
            crawl_page_free(&p);
            goto done;
        }
        if (p.status == 200 && p.body.len)
            crawl_robots_parse(&robots, p.body.data, p.body.len);
        crawl_page_free(&p);
    }
    if (robots.crawl_delay > delay)
        delay = robots.crawl_delay;
    /* sitemap: given, else from robots.txt, else /sitemap.xml */
    {
        char smu[RAG_URL_MAX];
        const char *cand = o->sitemap;
        if (!cand && robots.sitemaps.n)
            cand = robots.sitemaps.v[0];
        if (!cand) {
            snprintf(smu, sizeof(smu), "%s://%s%s%s:%d/sitemap.xml", pu.scheme,
                     pu.ipv6 ? "[" : "", pu.host, pu.ipv6 ? "]" : "", pu.port);
            cand = smu;
        }
        polite_wait(&last, delay);
        if (crawl_sitemap(&co, cand, &sm, err, errlen) != 0) {
            if (o->sitemap)
                goto done; /* asked for explicitly: its failure is fatal */
            err[0] = '\0';
        }
    }
    for (size_t i = 0; i < sm.n; i++)
        if (rag_url_normalize(sm.v[i], u, sizeof(u)) == 0 &&
            in_scope(o, root, u) && fr_seen_add(&fr, u) < 0)
            goto oom;
    use_links = fr.n == 0;
    if (use_links && fr_seen_add(&fr, root) < 0)
        goto oom;
    rag_info("msg=\"crawl start\" site=\"%s\" discovery=%s pages=%zu "
             "delay=%.2f",
             root, use_links ? "links" : "sitemap", fr.n, delay);
    polite_wait(&last, delay);
    if ((pool = crawl_pool_start(&co, threads, delay, o->selector)) == NULL)
        goto oom;
    for (;;) {
        crawl_result *res;
        crawl_page *pg;
        doc_row *d;
        const char *url;

        /* keep the pool busy, within the page budget and robots.txt */
        while (next < fr.n && crawl_pool_pending(pool) < (size_t)threads * 2) {
            rag_url uu;
            url = fr.v[next++];
            if (dispatched >= max_pages) {
                rag_warn("msg=\"max pages reached\" max=%ld", max_pages);
                r->partial = 1;
                next = fr.n;
                break;
            }
            if (rag_url_parse(url, &uu) != 0 ||
                !crawl_robots_allowed(&robots, uu.path)) {
                /* not kept: a page the site now disallows is removed
                 * (within the half-collection limit) */
                rag_info("msg=\"robots.txt disallows\" url=\"%s\"", url);
                r->st->skipped++;
                continue;
            }
            d = map_get(&r->map, url);
            if (crawl_pool_submit(pool, url, d ? d->etag : NULL,
                                  d ? d->lastmod : NULL) != 0)
                goto oom;
            dispatched++;
        }
        r->progress_total = (long)fr.n;
        if ((res = crawl_pool_next(pool)) == NULL) {
            if (next >= fr.n)
                break;
            continue;
        }
        url = res->url;
        pg = &res->page;
        d = map_get(&r->map, url);
        if (res->fetch_rc != 0) {
            rag_warn("msg=\"fetch failed\" url=\"%s\" error=\"%s\"", url,
                     pg->error);
            r->st->failed++;
            keep_doc(r, url, 0);
        } else if (pg->status == 304) {
            r->st->fetched++;
            keep_doc(r, url, 1);
            /* not modified: follow the links it had last time */
            if (use_links && d &&
                follow_stored_links(r, &fr, root, d->id) != 0) {
                crawl_result_free(res);
                goto oom;
            }
        } else if (pg->status == 404 || pg->status == 410) {
            /* gone: not marked seen, so it is deleted at the end */
            r->st->fetched++;
        } else if (pg->status != 200) {
            rag_warn("msg=\"fetch status\" url=\"%s\" status=%ld", url,
                     pg->status);
            r->st->failed++;
            keep_doc(r, url, 0);
        } else if (!res->is_html) {
            r->st->skipped++;
        } else if (strcmp(pg->final_url, url) != 0 &&
                   (!in_scope(o, root, pg->final_url) ||
                    fr_seen_add(&fr, pg->final_url) == 0)) {
            /* a redirect out of scope, or to a page queued anyway */
            keep_doc(r, url, 0);
        } else if (!res->converted) {
            rag_warn("msg=\"convert failed\" url=\"%s\" error=\"%s\"",
                     pg->final_url, res->err);
            r->st->failed++;
            keep_doc(r, url, 0);
        } else {
            rag_html_doc *hd = &res->doc;
            const char *page = pg->final_url;
            rag_buf lk;
            int sr;

            r->st->fetched++;
            rag_buf_init(&lk, 0);
            for (size_t k = 0; k < hd->nlinks; k++) {
                if (!in_scope(o, root, hd->links[k]))
                    continue;
                if ((lk.len && rag_buf_putc(&lk, '\n')) ||
                    rag_buf_puts(&lk, hd->links[k]) ||
                    (use_links && fr_seen_add(&fr, hd->links[k]) < 0)) {
                    rag_buf_free(&lk);
                    crawl_result_free(res);
                    goto oom;
                }
            }
            sr = store_doc(r, page, hd->title, hd->markdown, pg->etag,
                           pg->last_modified, "docs", lk.data ? lk.data : "");
            rag_buf_free(&lk);
            if (sr != 0) {
                snprintf(err, errlen, "database error storing %s", page);
                crawl_result_free(res);
                goto done;
            }
            if (strcmp(page, url) != 0)
                keep_doc(r, url, 0);
        }
        crawl_result_free(res);
        progress(r, "");
    }
    rc = 0;
    goto done;
oom:
    snprintf(err, errlen, "out of memory");
done:
    crawl_pool_stop(pool);
    crawl_robots_free(&robots);
    crawl_urls_free(&sm);
    fr_free(&fr);
    return rc;
}

/* ---- dir / json / rechunk
 * ------------------------------------------------------ */

static int
ingest_items(run_t *r, ingest_item *items, size_t n, char *err, size_t errlen)
{
    r->progress_total = (long)n;
    for (size_t i = 0; i < n; i++) {
        r->st->fetched++;
        if (store_doc(r, items[i].url, items[i].title, items[i].body, NULL,
                      NULL, "docs", NULL) != 0) {
            snprintf(err, errlen, "database error storing %s", items[i].url);
            return -1;
        }
        progress(r, "");
    }
    return 0;
}

static int
ingest_rechunk(run_t *r, char *err, size_t errlen)
{
    const char *p[1] = {r->coll_id};
    PGresult *res = rag_db_query(
        r->db,
        "SELECT id, title, body FROM documents WHERE collection_id = $1 "
        "AND (chunked_hash <> content_hash OR content_hash = '' "
        "OR NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = "
        "documents.id)) ORDER BY id",
        1, p);
    int rc = -1;

    if (res == NULL) {
        snprintf(err, errlen, "cannot read documents");
        return -1;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        char hash[65];
        const char *body = PQgetvalue(res, i, 2);
        sha256_hex(body, strlen(body), hash);
        if (rag_db_begin(r->db) != 0 ||
            rechunk_doc(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), body,
                        hash) != 0 ||
            rag_db_commit(r->db) != 0) {
            rag_db_rollback(r->db);
            snprintf(err, errlen, "cannot rechunk document %s",
                     PQgetvalue(res, i, 0));
            goto done;
        }
        r->st->changed++;
    }
    rc = 0;
done:
    PQclear(res);
    return rc;
}

/* Records how the collection was filled (collections.source), so an
 * ingest job naming only the collection re-runs it (e.g. a periodic
 * refresh or a bot command). */
static int
save_source(run_t *r)
{
    const rag_ingest_opts *o = r->o;
    rag_buf j;
    char abs[4096];
    int rc = -1;

    rag_buf_init(&j, 64 * 1024);
#define JSTR(k, v)                                                             \
    (rag_buf_puts(&j, ",\"" k "\":") || rag_buf_json_str(&j, (v), strlen(v)))
    if (o->type == INGEST_SITE) {
        if (rag_buf_puts(&j, "{\"type\":\"site\"") || JSTR("url", o->site) ||
            (o->sitemap && JSTR("sitemap", o->sitemap)))
            goto done;
        for (int pass = 0; pass < 2; pass++) {
            const char *const *v = pass ? o->exclude : o->include;
            size_t n = pass ? o->nexclude : o->ninclude;
            if (rag_buf_puts(&j, pass ? ",\"exclude\":[" : ",\"include\":["))
                goto done;
            for (size_t i = 0; i < n; i++)
                if ((i && rag_buf_putc(&j, ',')) ||
                    rag_buf_json_str(&j, v[i], strlen(v[i])))
                    goto done;
            if (rag_buf_putc(&j, ']'))
                goto done;
        }
    } else if (o->type == INGEST_DIR) {
        if (realpath(o->dir, abs) == NULL)
            snprintf(abs, sizeof(abs), "%s", o->dir);
        if (rag_buf_puts(&j, "{\"type\":\"dir\"") || JSTR("dir", abs) ||
            JSTR("url_template", o->url_template))
            goto done;
    } else if (o->type == INGEST_JSON) {
        if (realpath(o->json, abs) == NULL)
            snprintf(abs, sizeof(abs), "%s", o->json);
        if (rag_buf_puts(&j, "{\"type\":\"json\"") || JSTR("file", abs))
            goto done;
    } else {
        rc = 0; /* rechunk / reindex change nothing about the source */
        goto done;
    }
    if ((o->selector && JSTR("selector", o->selector)) || rag_buf_putc(&j, '}'))
        goto done;
#undef JSTR
    const char *p[2] = {r->coll_id, j.data};
    rc = rag_db_exec(
        r->db, "UPDATE collections SET source = $2::jsonb WHERE id = $1", 2, p);
done:
    rag_buf_free(&j);
    return rc;
}

/* ---- entry points
 * ---------------------------------------------------------------- */

void
rag_ingest_format_stats(const rag_ingest_stats *st, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "pages fetched=%ld unchanged=%ld new=%ld changed=%ld "
             "deleted=%ld failed=%ld skipped=%ld chunks=%ld embedded=%ld "
             "generation=%llu seconds=%.2f",
             st->fetched, st->unchanged, st->added, st->changed, st->deleted,
             st->failed, st->skipped, st->chunks, st->embedded, st->generation,
             st->seconds);
}

int
rag_ingest_run(PGconn *db, rag_conf *conf, const rag_ingest_opts *o,
               rag_ingest_stats *st, char *err, size_t errlen)
{
    run_t r;
    PGresult *res;
    const char *index_dir;
    ingest_item *items = NULL;
    size_t nitems = 0;
    uint64_t gen = 0;
    uint32_t count = 0;
    int rc = -1, locked = 0;

    memset(st, 0, sizeof(*st));
    memset(&r, 0, sizeof(r));
    err[0] = '\0';
    r.db = db;
    r.conf = conf;
    r.o = o;
    r.st = st;
    r.t0 = rag_time_mono_s();
    rag_chunk_opts_default(&r.copts);
    r.copts.max_tokens = (size_t)rag_conf_int(conf, "chunk_tokens", 500);
    r.copts.overlap_tokens = (size_t)rag_conf_int(
        conf, "chunk_overlap", (long)r.copts.max_tokens * 15 / 100);
    r.copts.min_tokens = r.copts.max_tokens / 5;
    /* crawled pages: anchors must exist in the HTML, never made up */
    r.copts.explicit_ids = o->type == INGEST_SITE;
    if (!rag_collection_name_ok(o->collection)) {
        snprintf(err, errlen, "bad collection name");
        goto done;
    }
    {
        const char *p[1] = {o->collection};
        if (rag_db_exec(db,
                        "INSERT INTO collections (name) VALUES ($1) "
                        "ON CONFLICT (name) DO NOTHING",
                        1, p) != 0 ||
            (res =
                 rag_db_query(db, "SELECT id FROM collections WHERE name = $1",
                              1, p)) == NULL) {
            snprintf(err, errlen, "cannot create collection");
            goto done;
        }
        snprintf(r.coll_id, sizeof(r.coll_id), "%s",
                 PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
        PQclear(res);
    }
    {
        /* one ingest per collection at a time (CLI and worker jobs) */
        const char *p[1] = {o->collection};
        res = rag_db_query(db,
                           "SELECT pg_try_advisory_lock(hashtext('rag_ingest:' "
                           "|| $1))",
                           1, p);
        locked = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (!locked) {
            snprintf(err, errlen, "another ingest of collection %s is running",
                     o->collection);
            rc = RAG_INGEST_BUSY;
            goto done;
        }
    }
    if (map_load(db, r.coll_id, &r.map) != 0) {
        snprintf(err, errlen, "cannot read documents");
        goto done;
    }
    switch (o->type) {
    case INGEST_SITE:
        if (ingest_site(&r, err, errlen) != 0)
            goto done;
        break;
    case INGEST_DIR:
        if (ingest_read_dir(o->dir, o->url_template, &items, &nitems, err,
                            errlen) != 0 ||
            ingest_items(&r, items, nitems, err, errlen) != 0)
            goto done;
        break;
    case INGEST_JSON:
        if (ingest_read_json(o->json, &items, &nitems, err, errlen) != 0 ||
            ingest_items(&r, items, nitems, err, errlen) != 0)
            goto done;
        break;
    case INGEST_RECHUNK:
        if (ingest_rechunk(&r, err, errlen) != 0)
            goto done;
        break;
    case INGEST_REINDEX_ONLY:
        break;
    }
    if (o->progress)
        fprintf(stderr, "\n");
    if ((o->type == INGEST_SITE || o->type == INGEST_DIR ||
         o->type == INGEST_JSON) &&
        delete_missing(&r, "docs", err, errlen) != 0)
        goto done;
    if (embed_pending(&r, err, errlen) != 0)
        goto done;
    index_dir = rag_conf_get(conf, "index_dir", "/var/lib/ngx_rag/index");
    if (rag_reindex_collection2(db, o->collection, index_dir, &gen, &count, err,
                                errlen) != 0)
        goto done;
    st->generation = gen;
    if (save_source(&r) != 0)
        rag_warn("msg=\"cannot record the collection's source\"");
    rc = 0;
done:
    if (locked) {
        const char *p[1] = {o->collection};
        rag_db_exec(db,
                    "SELECT pg_advisory_unlock(hashtext('rag_ingest:' || $1))",
                    1, p);
    }
    st->seconds = rag_time_mono_s() - r.t0;
    ingest_items_free(items, nitems);
    map_free(&r.map);
    return rc;
}

/* A job may read local files only below ingest_file_root: jobs are data
 * (rows anyone with queue access can write), and reading /etc into a
 * searchable collection must not be one INSERT away. */
static int
file_allowed(rag_conf *conf, const char *path, char *err, size_t errlen)
{
    const char *root = rag_conf_get(conf, "ingest_file_root", NULL);
    char rr[4096], rp[4096];
    size_t n;

    if (root == NULL || *root == '\0') {
        snprintf(err, errlen, "file sources in jobs need ingest_file_root");
        return -1;
    }
    if (realpath(root, rr) == NULL || realpath(path, rp) == NULL) {
        snprintf(err, errlen, "cannot resolve %s", path);
        return -1;
    }
    n = strlen(rr);
    if (strncmp(rp, rr, n) != 0 ||
        (rp[n] != '/' && rp[n] != '\0' && !(n == 1 && rr[0] == '/'))) {
        snprintf(err, errlen, "%s is outside ingest_file_root", path);
        return -1;
    }
    return 0;
}

int
rag_ingest_run_job(PGconn *db, rag_conf *conf, const char *payload_json,
                   char *err, size_t errlen)
{
    rag_ingest_opts o;
    rag_ingest_stats st;
    char ebuf[256], line[512];
    const char *src_path[] = {"source", NULL}, *force_path[] = {"force", NULL};
    yajl_val root, src, v, saved = NULL;
    const char *type;
    int rc = -1;

    memset(&o, 0, sizeof(o));
    o.delay = -1;
    if (payload_json == NULL || strlen(payload_json) > 1024 * 1024) {
        snprintf(err, errlen, "payload missing or too large");
        return -1;
    }
    root = yajl_tree_parse(payload_json, ebuf, sizeof(ebuf));
    if (root == NULL) {
        snprintf(err, errlen, "bad payload JSON");
        return -1;
    }
    src = yajl_tree_get(root, src_path, yajl_t_object);
    o.collection = rag_json_str(root, "collection", NULL);
    if (o.collection && src == NULL) {
        /* no source given: re-run the one recorded for the collection */
        const char *p[1] = {o.collection};
        PGresult *res = rag_db_query(
            db, "SELECT source::text FROM collections WHERE name = $1", 1, p);
        if (res && PQntuples(res) == 1)
            saved = yajl_tree_parse(PQgetvalue(res, 0, 0), ebuf, sizeof(ebuf));
        PQclear(res);
        if (saved && YAJL_IS_OBJECT(saved))
            src = saved;
    }
    type = src ? rag_json_str(src, "type", NULL) : NULL;
    if (!o.collection || !type) {
        snprintf(err, errlen,
                 "payload needs collection and source.type "
                 "(or a collection with a recorded source)");
        goto done;
    }
    v = yajl_tree_get(root, force_path, yajl_t_any);
    o.force = v && YAJL_IS_TRUE(v);
    o.allow_private = rag_conf_bool(conf, "ingest_allow_private", 0);
    o.selector = rag_json_str(src, "selector", NULL);
    if (strcmp(type, "site") == 0) {
        const char *inc[] = {"include", NULL}, *exc[] = {"exclude", NULL};
        yajl_val a;
        o.type = INGEST_SITE;
        o.site = rag_json_str(src, "url", NULL);
        o.sitemap = rag_json_str(src, "sitemap", NULL);
        if ((a = yajl_tree_get(src, inc, yajl_t_array)))
            for (size_t i = 0;
                 i < YAJL_GET_ARRAY(a)->len && o.ninclude < INGEST_MAX_PREFIXES;
                 i++)
                if (YAJL_IS_STRING(YAJL_GET_ARRAY(a)->values[i]))
                    o.include[o.ninclude++] =
                        YAJL_GET_STRING(YAJL_GET_ARRAY(a)->values[i]);
        if ((a = yajl_tree_get(src, exc, yajl_t_array)))
            for (size_t i = 0;
                 i < YAJL_GET_ARRAY(a)->len && o.nexclude < INGEST_MAX_PREFIXES;
                 i++)
                if (YAJL_IS_STRING(YAJL_GET_ARRAY(a)->values[i]))
                    o.exclude[o.nexclude++] =
                        YAJL_GET_STRING(YAJL_GET_ARRAY(a)->values[i]);
        if (!o.site) {
            snprintf(err, errlen, "site source needs url");
            goto done;
        }
    } else if (strcmp(type, "dir") == 0) {
        o.type = INGEST_DIR;
        o.dir = rag_json_str(src, "dir", NULL);
        o.url_template = rag_json_str(src, "url_template", NULL);
        if (!o.dir || !o.url_template) {
            snprintf(err, errlen, "dir source needs dir and url_template");
            goto done;
        }
    } else if (strcmp(type, "json") == 0) {
        o.type = INGEST_JSON;
        o.json = rag_json_str(src, "file", NULL);
        if (!o.json) {
            snprintf(err, errlen, "json source needs file");
            goto done;
        }
    } else if (strcmp(type, "rechunk") == 0) {
        o.type = INGEST_RECHUNK;
    } else {
        snprintf(err, errlen, "unknown source type");
        goto done;
    }
    if ((o.type == INGEST_DIR || o.type == INGEST_JSON) &&
        file_allowed(conf, o.type == INGEST_DIR ? o.dir : o.json, err,
                     errlen) != 0)
        goto done;
    rc = rag_ingest_run(db, conf, &o, &st, err, errlen);
    rag_ingest_format_stats(&st, line, sizeof(line));
    rag_info("msg=\"ingest job\" collection=\"%s\" ok=%d %s", o.collection,
             rc == 0, line);
done:
    yajl_tree_free(saved);
    yajl_tree_free(root);
    return rc;
}
