#include "ingest.h"
#include "rag_time.h"

#include "conf_tables.h"
#include "crawl.h"
#include "crawl_pool.h"
#include "ingest_boiler.h"
#include "ingest_expand.h"
#include "ingest_src.h"
#include "rag_buf.h"
#include "rag_chunk.h"
#include "rag_db.h"
#include "rag_embed.h"
#include "rag_html.h"
#include "rag_json.h"
#include "rag_log.h"
#include "rag_reindex.h"
#include "rag_store_chunks.h"
#include "rag_store_collections.h"
#include "rag_store_documents.h"
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

/* The first line of the server's last error, quotes made single (for a
 * log value). */
static void
db_reason(PGconn *db, char *out, size_t outlen)
{
    const char *m = PQerrorMessage(db);
    size_t n = 0;

    if (strncmp(m, "ERROR:", 6) == 0)
        m += 6;
    while (*m == ' ')
        m++;
    for (; *m && *m != '\n' && n + 1 < outlen; m++)
        out[n++] = *m == '"' ? '\'' : *m;
    out[n] = '\0';
}

static int
map_load(PGconn *db, const char *coll_id, doc_map *m)
{
    PGresult *r = rag_store_documents_list(db, coll_id);
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

/* ---- pages by content -------------------------------------------------------
 * The same page under two URLs (/ and git.html) is stored once: a map of
 * body hash -> URL, seeded with the stored documents, picks one URL by a
 * fixed rule whatever the crawl order. */

typedef struct {
    char **hash, **url; /* open addressing, NULL = empty */
    size_t n, nslots;
} hash_map;

static const char *
hm_get(const hash_map *m, const char *hash)
{
    if (m->nslots == 0)
        return NULL;
    for (size_t i = fnv(hash) % m->nslots; m->hash[i]; i = (i + 1) % m->nslots)
        if (strcmp(m->hash[i], hash) == 0)
            return m->url[i];
    return NULL;
}

static int
hm_set(hash_map *m, const char *hash, const char *url)
{
    size_t i;

    if (m->nslots == 0 || m->n * 2 + 2 > m->nslots) {
        size_t ns = m->nslots ? m->nslots * 2 : 1024;
        char **h = calloc(ns, sizeof(*h)), **u = calloc(ns, sizeof(*u));
        if (!h || !u) {
            free(h);
            free(u);
            return -1;
        }
        for (size_t k = 0; k < m->nslots; k++) {
            if (!m->hash[k])
                continue;
            for (i = fnv(m->hash[k]) % ns; h[i]; i = (i + 1) % ns)
                ;
            h[i] = m->hash[k];
            u[i] = m->url[k];
        }
        free(m->hash);
        free(m->url);
        m->hash = h;
        m->url = u;
        m->nslots = ns;
    }
    for (i = fnv(hash) % m->nslots; m->hash[i]; i = (i + 1) % m->nslots)
        if (strcmp(m->hash[i], hash) == 0) {
            char *nu = strdup(url);
            if (nu == NULL)
                return -1;
            free(m->url[i]);
            m->url[i] = nu;
            return 0;
        }
    if ((m->hash[i] = strdup(hash)) == NULL)
        return -1;
    if ((m->url[i] = strdup(url)) == NULL) {
        free(m->hash[i]);
        m->hash[i] = NULL;
        return -1;
    }
    m->n++;
    return 0;
}

static void
hm_free(hash_map *m)
{
    for (size_t i = 0; i < m->nslots; i++) {
        free(m->hash[i]);
        free(m->url[i]);
    }
    free(m->hash);
    free(m->url);
    memset(m, 0, sizeof(*m));
}

/* Which of two URLs of one page to keep: a named page over a folder
 * ("git.html" over "/"), then the shorter, then the first in byte
 * order. 1 when a wins. */
static int
url_better(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int fa = la && a[la - 1] == '/', fb = lb && b[lb - 1] == '/';

    if (fa != fb)
        return fb;
    if (la != lb)
        return la < lb;
    return strcmp(a, b) < 0;
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
    int partial;        /* the source was not read completely */
    char dberr[256];    /* why the last page failed to store */
    boiler_set bp;      /* site boilerplate lines (ingest_boiler.h) */
    hash_map seen_hash; /* content hash -> URL stored this run */
    expand_harvest exp; /* terms from the site's index pages */
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

/* Rebuilds the chunks of one document inside the caller's transaction,
 * without the site's boilerplate lines (source "docs"); chunks with
 * unchanged text keep their embeddings. */
static int
rechunk_doc(run_t *r, const char *doc_id, const char *title, const char *body,
            const char *source, const char *hash)
{
    rag_chunks cs = {NULL, 0};
    rag_buf clean;
    int rc = -1;

    rag_buf_init(&clean, RAG_CHUNK_MAX_INPUT);
    if (strcmp(source, "docs") == 0 && r->bp.n) {
        if (boiler_strip(body, strlen(body), &r->bp, &clean) != 0)
            goto done;
        body = clean.data ? clean.data : "";
    }
    if (rag_chunk_markdown(body, strlen(body), title, &r->copts, &cs) != 0 ||
        rag_store_chunks_replace(r->db, doc_id, &cs) != 0 ||
        rag_store_documents_set_chunked(r->db, doc_id, hash) != 0)
        goto done;
    r->st->chunks += (long)cs.n;
    rc = 0;
done:
    rag_buf_free(&clean);
    rag_chunks_free(&cs);
    return rc;
}

/* Stores one page; its chunks are (re)built after the source is read,
 * once the site's boilerplate is known. Returns 0 (counted as new,
 * changed, unchanged or duplicate) or -1. */
static int
store_doc(run_t *r, const char *url, const char *title, const char *body,
          const char *etag, const char *lastmod, const char *source,
          const char *links)
{
    char hash[65];
    doc_row *d = map_get(&r->map, url);
    const char *other;
    PGresult *res;

    sha256_hex(body, strlen(body), hash);
    if ((other = hm_get(&r->seen_hash, hash)) != NULL &&
        strcmp(other, url) != 0) {
        /* the same page under another URL: keep one */
        doc_row *od = map_get(&r->map, other);
        r->st->duplicates++;
        if (!url_better(url, other)) {
            rag_info("msg=\"duplicate page skipped\" url=\"%s\" same_as=\"%s\"",
                     url, other);
            return 0;
        }
        rag_info("msg=\"duplicate page replaced\" url=\"%s\" same_as=\"%s\"",
                 other, url);
        if (rag_store_documents_delete_url(r->db, r->coll_id, other) != 0)
            return -1;
        if (od) {
            od->seen = 1; /* gone already */
            r->st->deleted++;
        }
    }
    if (hm_set(&r->seen_hash, hash, url) != 0)
        return -1;
    if (d) {
        d->seen = 1;
        if (strcmp(d->content_hash, hash) == 0 &&
            strcmp(d->chunked_hash, hash) == 0 &&
            strcmp(d->title, title) == 0) {
            r->st->unchanged++;
            return rag_store_documents_touch(r->db, d->id, etag, lastmod,
                                             links);
        }
    }
    res = rag_store_documents_upsert(r->db, r->coll_id, url, title, body, hash,
                                     etag, lastmod, source, links);
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        db_reason(r->db, r->dberr, sizeof(r->dberr));
        return -1;
    }
    PQclear(res);
    if (d)
        r->st->changed++;
    else
        r->st->added++;
    return 0;
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
        r->st->unchanged++;
        rag_store_documents_touch_fetched(r->db, d->id);
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
        if (rag_store_documents_delete(r->db, d->id) != 0) {
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
    for (;;) {
        PGresult *res = rag_store_chunks_unembedded(db, coll_id, EMBED_BATCH);
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
            if (rag_store_chunks_set_embedding(
                    db, PQgetvalue(res, i, 0), arr.data,
                    ec->model ? ec->model : "") != 0) {
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

/* The URL a page is known by: "dir/index.html" is "dir/" (servers
 * answer both with one page). */
static void
canon_key(const char *url, char *out, size_t outlen)
{
    size_t n = strcspn(url, "?#");
    static const char *const idx[] = {"/index.html", "/index.htm", NULL};

    snprintf(out, outlen, "%s", url);
    for (int i = 0; idx[i]; i++) {
        size_t l = strlen(idx[i]);
        if (n >= l && strncmp(url + n - l, idx[i], l) == 0 && n < outlen) {
            snprintf(out, outlen, "%.*s%s", (int)(n - l + 1), url, url + n);
            return;
        }
    }
}

typedef struct {
    char **v;   /* URLs in discovery order, as found */
    char **key; /* their canon_key */
    char **ref; /* the page that linked each, NULL: sitemap or start */
    char *done; /* 1: fetched another way (a redirect landed on it) */
    size_t n, cap;
    size_t *set; /* open addressing over key: index + 1, 0 = empty */
    size_t nset;
} frontier;

static long
fr_find(const frontier *f, const char *u)
{
    char k[RAG_URL_MAX];

    if (f->nset == 0)
        return -1;
    canon_key(u, k, sizeof(k));
    for (size_t i = fnv(k) % f->nset; f->set[i]; i = (i + 1) % f->nset)
        if (strcmp(f->key[f->set[i] - 1], k) == 0)
            return (long)(f->set[i] - 1);
    return -1;
}

/* Queues u (found on page ref, NULL if none) unless a URL with its key is
 * known: 1 queued, 0 known, -1 out of memory. done: record it as fetched
 * already. */
static int
fr_add(frontier *f, const char *u, const char *ref, int done)
{
    char k[RAG_URL_MAX];
    size_t i;

    if (fr_find(f, u) >= 0)
        return 0;
    canon_key(u, k, sizeof(k));
    if (f->nset == 0 || f->n * 2 + 2 > f->nset) {
        size_t ns = f->nset ? f->nset * 2 : 1024;
        size_t *set = calloc(ns, sizeof(*set));
        if (set == NULL)
            return -1;
        for (size_t j = 0; j < f->n; j++) {
            for (i = fnv(f->key[j]) % ns; set[i]; i = (i + 1) % ns)
                ;
            set[i] = j + 1;
        }
        free(f->set);
        f->set = set;
        f->nset = ns;
    }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 256;
        char **v;
        char *d;
        if ((v = realloc(f->v, nc * sizeof(*v))) == NULL)
            return -1;
        f->v = v;
        if ((v = realloc(f->key, nc * sizeof(*v))) == NULL)
            return -1;
        f->key = v;
        if ((v = realloc(f->ref, nc * sizeof(*v))) == NULL)
            return -1;
        f->ref = v;
        if ((d = realloc(f->done, nc)) == NULL)
            return -1;
        f->done = d;
        f->cap = nc;
    }
    f->ref[f->n] = NULL;
    f->key[f->n] = NULL;
    f->done[f->n] = (char)done;
    if ((f->v[f->n] = strdup(u)) == NULL ||
        (f->key[f->n] = strdup(k)) == NULL ||
        (ref && (f->ref[f->n] = strdup(ref)) == NULL)) {
        free(f->v[f->n]);
        free(f->key[f->n]);
        return -1;
    }
    for (i = fnv(k) % f->nset; f->set[i]; i = (i + 1) % f->nset)
        ;
    f->set[i] = f->n + 1;
    f->n++;
    return 1;
}

static int
fr_seen_add(frontier *f, const char *u, const char *ref)
{
    return fr_add(f, u, ref, 0);
}

/* Generated index pages and source listings (Sphinx's genindex,
 * py-modindex, search, _modules/, _sources/): no prose of their own.
 * 2 for Sphinx's general index (genindex.html, genindex-A.html, ...):
 * fetched for its terms (document expansion), never stored; 1 for the
 * rest: not fetched; 0 for other pages. */
static int
is_generated(const char *url)
{
    static const char *const names[] = {"genindex.html",
                                        "py-modindex.html",
                                        "modindex.html",
                                        "search.html",
                                        "np-modindex.html",
                                        "searchindex.js",
                                        NULL};
    size_t n = strcspn(url, "?#");
    const char *b = url + n;

    while (b > url && b[-1] != '/')
        b--;
    if (strncmp(b, "genindex-", 9) == 0 ||
        ((size_t)(url + n - b) == 13 && strncmp(b, "genindex.html", 13) == 0))
        return 2;
    for (int i = 0; names[i]; i++)
        if ((size_t)(url + n - b) == strlen(names[i]) &&
            strncmp(b, names[i], strlen(names[i])) == 0)
            return 1;
    return strstr(url, "/_modules/") != NULL ||
           strstr(url, "/_sources/") != NULL;
}

static void
fr_free(frontier *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i]);
        free(f->key[i]);
        free(f->ref[i]);
    }
    free(f->v);
    free(f->key);
    free(f->ref);
    free(f->done);
    free(f->set);
}

/* After a page failed to store: 0 to go on with the next page (logged
 * and counted), -1 when the database itself is gone. */
static int
store_failed(run_t *r, const char *url, char *err, size_t errlen)
{
    if (PQstatus(r->db) != CONNECTION_OK) {
        snprintf(err, errlen, "database connection lost storing %s", url);
        return -1;
    }
    rag_warn("msg=\"page not stored\" url=\"%s\" error=\"%s\"", url, r->dberr);
    r->dberr[0] = '\0';
    r->st->failed++;
    return 0;
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
                    const char *doc_id, const char *page)
{
    PGresult *res = rag_store_documents_out_links(r->db, doc_id);
    int rc = 0;

    if (res == NULL)
        return 0; /* nothing to follow; the crawl goes on */
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        if (in_scope(r->o, root, PQgetvalue(res, i, 0)) &&
            fr_seen_add(fr, PQgetvalue(res, i, 0), page) < 0)
            rc = -1;
    PQclear(res);
    return rc;
}

/* After a redirect from url to final: 1 when this copy is not stored
 * (out of scope, or final is fetched on its own), 0 when it is (final
 * is new, or queued but not yet fetched: it is marked done so a
 * sitemap URL redirecting to a trailing slash is fetched once). */
static int
redirect_elsewhere(const rag_ingest_opts *o, const char *root, frontier *fr,
                   size_t next, const char *url, const char *final)
{
    long k;

    if (!in_scope(o, root, final))
        return 1;
    if ((k = fr_find(fr, final)) < 0)
        return fr_add(fr, final, url, 1) < 0; /* out of memory: skip it */
    if ((size_t)k == (size_t)fr_find(fr, url))
        return 0; /* only /index.html <-> / */
    if ((size_t)k >= next && !fr->done[k]) {
        fr->done[k] = 1;
        return 0;
    }
    return 1;
}

/* One site crawl: its settings, robots.txt, the frontier and the pool. */
typedef struct {
    crawl_opts co;
    crawl_robots robots;
    crawl_urls sm;
    frontier fr;
    crawl_pool *pool;
    char root[RAG_URL_MAX];
    rag_url pu;
    double delay, last;
    long max_pages, dispatched;
    size_t next; /* fr.v[next] is the next URL to dispatch */
    int threads;
    int use_links; /* discover pages by links (no sitemap) */
} site_crawl;

/* The crawl's settings: the job's options, else the configuration. */
static void
site_settings(run_t *r, site_crawl *sc)
{
    const rag_ingest_opts *o = r->o;
    const rag_conf_section *cs = &rag_conf_ingest;

    crawl_opts_default(&sc->co);
    sc->co.allow_private = o->allow_private;
    sc->co.timeout_ms = rag_conf_long(r->conf, cs, "crawl_timeout_ms");
    sc->co.max_bytes = (size_t)rag_conf_long(r->conf, cs, "crawl_max_bytes");
    sc->co.backoff_ms = rag_conf_long(r->conf, cs, "crawl_backoff_ms");
    sc->delay =
        o->delay >= 0 ? o->delay : rag_conf_num(r->conf, cs, "crawl_delay");
    sc->max_pages = o->max_pages > 0
                        ? o->max_pages
                        : rag_conf_long(r->conf, cs, "crawl_max_pages");
    sc->threads = o->concurrency > 0
                      ? o->concurrency
                      : (int)rag_conf_long(r->conf, cs, "crawl_concurrency");
    if (sc->threads < 1 || sc->threads > 16)
        sc->threads = 4;
    r->st->max_pages = sc->max_pages;
}

/* robots.txt first (RFC 9309): 4xx allows everything; a server error or
 * no answer means "not now", so the crawl stops. 0, or -1 with err. */
static int
site_robots(site_crawl *sc, char *err, size_t errlen)
{
    char url[RAG_URL_MAX];
    crawl_page p;
    int rc = -1;

    snprintf(url, sizeof(url), "%s://%s%s%s:%d/robots.txt", sc->pu.scheme,
             sc->pu.ipv6 ? "[" : "", sc->pu.host, sc->pu.ipv6 ? "]" : "",
             sc->pu.port);
    polite_wait(&sc->last, 0);
    if (crawl_fetch(&sc->co, url, NULL, NULL, &p) != 0)
        snprintf(err, errlen, "%s%s",
                 strncmp(p.error, "refusing", 8) == 0
                     ? ""
                     : "robots.txt unavailable, not crawling: ",
                 p.error);
    else if (p.status >= 500)
        snprintf(err, errlen, "robots.txt answered HTTP %ld, not crawling",
                 p.status);
    else
        rc = 0;
    if (rc == 0 && p.status == 200 && p.body.len)
        crawl_robots_parse(&sc->robots, p.body.data, p.body.len);
    crawl_page_free(&p);
    if (sc->robots.crawl_delay > sc->delay)
        sc->delay = sc->robots.crawl_delay;
    return rc;
}

/* Load: settings, robots.txt, the sitemap (given, else robots.txt's, else
 * /sitemap.xml) or the start page into the frontier. 0, -1 with err, or
 * -2 out of memory. */
static int
site_load(run_t *r, site_crawl *sc, char *err, size_t errlen)
{
    const rag_ingest_opts *o = r->o;
    char smu[RAG_URL_MAX], u[RAG_URL_MAX];
    const char *cand = o->sitemap;

    site_settings(r, sc);
    if (rag_url_normalize(o->site, sc->root, sizeof(sc->root)) != 0 ||
        rag_url_parse(sc->root, &sc->pu) != 0) {
        snprintf(err, errlen, "bad --site URL");
        return -1;
    }
    if (site_robots(sc, err, errlen) != 0)
        return -1;
    if (!cand && sc->robots.sitemaps.n)
        cand = sc->robots.sitemaps.v[0];
    if (!cand) {
        snprintf(smu, sizeof(smu), "%s://%s%s%s:%d/sitemap.xml", sc->pu.scheme,
                 sc->pu.ipv6 ? "[" : "", sc->pu.host, sc->pu.ipv6 ? "]" : "",
                 sc->pu.port);
        cand = smu;
    }
    polite_wait(&sc->last, sc->delay);
    if (crawl_sitemap(&sc->co, cand, &sc->sm, err, errlen) != 0) {
        if (o->sitemap)
            return -1; /* asked for explicitly: its failure is fatal */
        err[0] = '\0';
    }
    for (size_t i = 0; i < sc->sm.n; i++)
        if (rag_url_normalize(sc->sm.v[i], u, sizeof(u)) == 0 &&
            in_scope(o, sc->root, u) && fr_seen_add(&sc->fr, u, NULL) < 0)
            return -2;
    sc->use_links = sc->fr.n == 0;
    if (sc->use_links && fr_seen_add(&sc->fr, sc->root, NULL) < 0)
        return -2;
    return 0;
}

/* Keeps the pool busy, within the page budget and robots.txt. 0, or -1
 * out of memory. */
static int
site_dispatch(run_t *r, site_crawl *sc)
{
    frontier *fr = &sc->fr;
    char key[RAG_URL_MAX];

    while (sc->next < fr->n &&
           crawl_pool_pending(sc->pool) < (size_t)sc->threads * 2) {
        const char *url;
        doc_row *d;
        rag_url uu;

        if (fr->done[sc->next]) {
            sc->next++;
            continue;
        }
        url = fr->v[sc->next++];
        if (!r->o->keep_generated && is_generated(url) == 1) {
            rag_debug("msg=\"generated page skipped\" url=\"%s\"", url);
            r->st->skipped++;
            continue;
        }
        if (sc->dispatched >= sc->max_pages) {
            /* links keep arriving from pages in flight: count them */
            if (!r->partial)
                rag_warn("msg=\"max pages reached\" max=%ld", sc->max_pages);
            r->partial = 1;
            r->st->partial = 1;
            r->st->unvisited++;
            continue;
        }
        if (rag_url_parse(url, &uu) != 0 ||
            !crawl_robots_allowed(&sc->robots, uu.path)) {
            /* not kept: a page the site now disallows is removed (within
             * the half-collection limit) */
            rag_info("msg=\"robots.txt disallows\" url=\"%s\"", url);
            r->st->skipped++;
            continue;
        }
        canon_key(url, key, sizeof(key));
        d = map_get(&r->map, key);
        if (crawl_pool_submit(sc->pool, url, d ? d->etag : NULL,
                              d ? d->lastmod : NULL) != 0)
            return -1;
        sc->dispatched++;
    }
    return 0;
}

/* Commit: stores a converted page under key (or its in-scope canonical
 * URL) with its in-scope links, which join the frontier when discovering
 * by links. 0, -1 with err (storing cannot go on), or -2 out of memory. */
static int
site_store(run_t *r, site_crawl *sc, crawl_result *res, char *key,
           size_t keylen, char *err, size_t errlen)
{
    const char *root = sc->root;
    rag_html_doc *hd = &res->doc;
    crawl_page *pg = &res->page;
    rag_buf lk;
    int sr;

    /* the page's own canonical URL wins when it is in scope (Sphinx and
     * MkDocs point theirs at the public site) */
    if (hd->canonical[0] && in_scope(r->o, root, hd->canonical) &&
        strcmp(hd->canonical, key) != 0) {
        canon_key(hd->canonical, key, keylen);
        if (fr_add(&sc->fr, key, pg->final_url, 1) < 0)
            return -2;
    }
    r->st->fetched++;
    if (hd->flattened)
        rag_warn("msg=\"markup nested deeper than %d levels kept as plain "
                 "text\" url=\"%s\"",
                 RAG_HTML_MAX_DEPTH, key);
    if (hd->replaced)
        rag_info("msg=\"invalid bytes replaced\" url=\"%s\" charset=%s "
                 "count=%ld",
                 key, hd->charset, hd->replaced);
    rag_buf_init(&lk, 0);
    for (size_t k = 0; k < hd->nlinks; k++) {
        if (!in_scope(r->o, root, hd->links[k]))
            continue;
        if ((lk.len && rag_buf_putc(&lk, '\n')) ||
            rag_buf_puts(&lk, hd->links[k]) ||
            (sc->use_links && fr_seen_add(&sc->fr, hd->links[k], key) < 0)) {
            rag_buf_free(&lk);
            return -2;
        }
    }
    sr = store_doc(r, key, hd->title, hd->markdown, pg->etag, pg->last_modified,
                   "docs", lk.data ? lk.data : "");
    rag_buf_free(&lk);
    if (sr != 0) {
        if (store_failed(r, key, err, errlen) != 0)
            return -1;
        keep_doc(r, key, 0);
    }
    return 0;
}

/* An index page (Sphinx genindex, DocBook bookindex: rag_expand): its
 * (term, target) pairs join the harvest, its links the frontier (they
 * lead to every indexed page); the page itself is stored only with
 * keep_generated. 0, or -1 out of memory. */
static int
harvest_index(run_t *r, site_crawl *sc, const crawl_result *res)
{
    const rag_expand_page *ep = &res->exp;
    char page[RAG_URL_MAX], key[RAG_URL_MAX];

    rag_info("msg=\"index page harvested\" url=\"%s\" pairs=%zu",
             res->page.final_url, ep->n);
    if (ep->n)
        r->exp.pages++;
    if (!r->o->keep_generated)
        r->st->skipped++;
    for (size_t i = 0; i < ep->n; i++) {
        const char *u = ep->v[i].url, *hash = strchr(u, '#');
        size_t n = hash ? (size_t)(hash - u) : strlen(u);
        if (n >= sizeof(page) || !in_scope(r->o, sc->root, u))
            continue;
        memcpy(page, u, n);
        page[n] = '\0';
        canon_key(page, key, sizeof(key));
        if (expand_harvest_add(&r->exp, key, hash ? hash + 1 : "",
                               ep->v[i].term) != 0)
            return -1;
    }
    for (size_t k = 0; sc->use_links && k < res->doc.nlinks; k++)
        if (in_scope(r->o, sc->root, res->doc.links[k]) &&
            fr_seen_add(&sc->fr, res->doc.links[k], res->page.final_url) < 0)
            return -1;
    return 0;
}

/* Compute: what one fetched page means — kept, gone, skipped, followed
 * for its links, or stored (site_store). 0, -1 with err, or -2 out of
 * memory. */
static int
site_take(run_t *r, site_crawl *sc, crawl_result *res, char *err, size_t errlen)
{
    const rag_ingest_opts *o = r->o;
    const char *url = res->url, *root = sc->root;
    crawl_page *pg = &res->page;
    char key[RAG_URL_MAX];
    doc_row *d;

    canon_key(pg->final_url ? pg->final_url : url, key, sizeof(key));
    d = map_get(&r->map, key);
    if (res->fetch_rc != 0) {
        rag_warn("msg=\"fetch failed\" url=\"%s\" error=\"%s\"", url,
                 pg->error);
        r->st->failed++;
        keep_doc(r, key, 0);
    } else if (pg->status == 304) {
        r->st->fetched++;
        keep_doc(r, key, 1);
        /* not modified: follow the links it had last time */
        if (sc->use_links && d &&
            follow_stored_links(r, &sc->fr, root, d->id, d->url) != 0)
            return -2;
    } else if (pg->status == 404 || pg->status == 410) {
        /* gone: not marked seen, so it is deleted at the end */
        long k = fr_find(&sc->fr, url);
        const char *ref = k >= 0 ? sc->fr.ref[k] : NULL;
        rag_warn("msg=\"not found\" url=\"%s\" referrer=\"%s\" status=%ld", url,
                 ref             ? ref
                 : sc->use_links ? "(start page)"
                                 : "(sitemap)",
                 pg->status);
        r->st->fetched++;
        r->st->notfound++;
    } else if (pg->status != 200) {
        rag_warn("msg=\"fetch status\" url=\"%s\" status=%ld", url, pg->status);
        r->st->failed++;
        keep_doc(r, key, 0);
    } else if (!res->is_html) {
        r->st->skipped++;
    } else if (strcmp(pg->final_url, url) != 0 &&
               redirect_elsewhere(o, root, &sc->fr, sc->next, url,
                                  pg->final_url)) {
        /* a redirect out of scope, or to a page fetched anyway */
        keep_doc(r, key, 0);
    } else if (res->converted &&
               (res->doc.listing ||
                (res->doc.toc && !o->keep_generated && !res->exp.is_index &&
                 is_generated(url) != 2))) {
        /* blog list, tag and author pages: teasers of other pages, which
         * their links lead to; tables of contents: only those links
         * (index pages, which read as them too, are harvested below) */
        rag_info("msg=\"listing page skipped\" url=\"%s\" kind=%s",
                 pg->final_url, res->doc.listing ? "teasers" : "toc");
        r->st->skipped++;
        for (size_t k = 0; sc->use_links && k < res->doc.nlinks; k++)
            if (in_scope(o, root, res->doc.links[k]) &&
                fr_seen_add(&sc->fr, res->doc.links[k], pg->final_url) < 0)
                return -2;
    } else if (res->converted &&
               (res->exp.is_index ||
                (!o->keep_generated && is_generated(url) == 2))) {
        if (harvest_index(r, sc, res) != 0)
            return -2;
        if (o->keep_generated)
            return site_store(r, sc, res, key, sizeof(key), err, errlen);
    } else if (!res->converted) {
        rag_warn("msg=\"convert failed\" url=\"%s\" error=\"%s\"",
                 pg->final_url, res->err);
        r->st->failed++;
        keep_doc(r, key, 0);
    } else {
        return site_store(r, sc, res, key, sizeof(key), err, errlen);
    }
    return 0;
}

static int
ingest_site(run_t *r, char *err, size_t errlen)
{
    site_crawl sc;
    crawl_result *res;
    int rc;

    memset(&sc, 0, sizeof(sc));
    if ((rc = site_load(r, &sc, err, errlen)) != 0)
        goto done;
    rag_info("msg=\"crawl start\" site=\"%s\" discovery=%s pages=%zu "
             "delay=%.2f",
             sc.root, sc.use_links ? "links" : "sitemap", sc.fr.n, sc.delay);
    polite_wait(&sc.last, sc.delay);
    sc.pool = crawl_pool_start(&sc.co, sc.threads, sc.delay, r->o->selector);
    if (sc.pool == NULL) {
        rc = -2;
        goto done;
    }
    for (;;) {
        if (site_dispatch(r, &sc) != 0) {
            rc = -2;
            goto done;
        }
        r->progress_total = (long)sc.fr.n;
        if ((res = crawl_pool_next(sc.pool)) == NULL) {
            if (sc.next >= sc.fr.n)
                break;
            continue;
        }
        rc = site_take(r, &sc, res, err, errlen);
        crawl_result_free(res);
        if (rc != 0)
            goto done;
        progress(r, "");
    }
    /* a complete crawl replaces the collection's index terms (none when
     * the site has no index page any more); a partial one only adds */
    if (expand_harvest_store(r->db, r->coll_id, &r->exp, !r->partial) != 0) {
        snprintf(err, errlen, "cannot store the index pages' terms");
        rc = -1;
        goto done;
    }
    rag_info("msg=\"index terms stored\" pages=%zu pairs=%zu replaced=%d",
             r->exp.pages, r->exp.n, !r->partial);
    rc = 0;
done:
    if (rc == -2)
        snprintf(err, errlen, "out of memory");
    crawl_pool_stop(sc.pool);
    crawl_robots_free(&sc.robots);
    crawl_urls_free(&sc.sm);
    fr_free(&sc.fr);
    return rc == 0 ? 0 : -1;
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
            if (store_failed(r, items[i].url, err, errlen) != 0)
                return -1;
            keep_doc(r, items[i].url, 0);
        }
        progress(r, "");
    }
    return 0;
}

/* (Re)chunks every document whose chunks are stale or missing, in
 * batches. A page that fails is logged and counted; the run goes on. */
static int
ingest_rechunk(run_t *r, char *err, size_t errlen)
{
    char after[32] = "0";

    for (;;) {
        PGresult *res =
            rag_store_documents_stale(r->db, r->coll_id, after, 100);
        int n;

        if (res == NULL) {
            snprintf(err, errlen, "cannot read documents");
            return -1;
        }
        if ((n = PQntuples(res)) == 0) {
            PQclear(res);
            return 0;
        }
        for (int i = 0; i < n; i++) {
            char hash[65];
            const char *id = PQgetvalue(res, i, 0),
                       *body = PQgetvalue(res, i, 2);
            sha256_hex(body, strlen(body), hash);
            if (rag_db_begin(r->db) != 0 ||
                rechunk_doc(r, id, PQgetvalue(res, i, 1), body,
                            PQgetvalue(res, i, 3), hash) != 0 ||
                rag_db_commit(r->db) != 0) {
                db_reason(r->db, r->dberr, sizeof(r->dberr));
                rag_db_rollback(r->db);
                if (store_failed(r, id, err, errlen) != 0) {
                    PQclear(res);
                    return -1;
                }
                continue;
            }
            if (r->o->type == INGEST_RECHUNK)
                r->st->changed++;
        }
        snprintf(after, sizeof(after), "%s", PQgetvalue(res, n - 1, 0));
        PQclear(res);
    }
}

/* The site's boilerplate lines over every page the source gave
 * (ingest_boiler.h). When the set changed since the chunks were built,
 * every page is re-chunked. */
static int
find_boilerplate(run_t *r, char *err, size_t errlen)
{
    boiler_counter *bc = boiler_counter_new();
    char after[32] = "0", sig[64], old[64];

    if (bc == NULL)
        goto oom;
    for (;;) {
        PGresult *res =
            rag_store_documents_bodies(r->db, r->coll_id, "docs", after, 200);
        int n;
        if (res == NULL) {
            boiler_counter_free(bc);
            snprintf(err, errlen, "cannot read documents");
            return -1;
        }
        n = PQntuples(res);
        for (int i = 0; i < n; i++)
            if (boiler_counter_add(bc, PQgetvalue(res, i, 1),
                                   (size_t)PQgetlength(res, i, 1)) != 0) {
                PQclear(res);
                boiler_counter_free(bc);
                goto oom;
            }
        if (n)
            snprintf(after, sizeof(after), "%s", PQgetvalue(res, n - 1, 0));
        PQclear(res);
        if (n < 200)
            break;
    }
    if (boiler_counter_finish(bc, &r->bp) != 0)
        goto oom;
    boiler_set_signature(&r->bp, sig, sizeof(sig));
    if (rag_store_collections_boilerplate_sig(r->db, r->coll_id, old,
                                              sizeof(old)) != 0) {
        snprintf(err, errlen, "cannot read the collection");
        return -1;
    }
    if (strcmp(sig, old) != 0) {
        rag_info("msg=\"site boilerplate changed, re-chunking every page\" "
                 "lines=%zu",
                 r->bp.n);
        if (rag_store_documents_mark_stale(r->db, r->coll_id, "docs") != 0 ||
            rag_store_collections_set_boilerplate_sig(r->db, r->coll_id, sig) !=
                0) {
            snprintf(err, errlen, "cannot mark documents for re-chunking");
            return -1;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
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
    rc = rag_store_collections_set_source(r->db, r->coll_id, j.data);
done:
    rag_buf_free(&j);
    return rc;
}

/* ---- entry points
 * ---------------------------------------------------------------- */

/* A new index generation only when something it holds changed (an
 * unchanged re-crawl writes none), or when there is no index yet. */
static int
need_index(run_t *r, const char *index_dir)
{
    const rag_ingest_stats *st = r->st;
    char path[4096];

    if (r->o->type == INGEST_REINDEX_ONLY || st->added || st->changed ||
        st->deleted || st->chunks || st->embedded)
        return 1;
    return rag_index_path(path, sizeof(path), index_dir, r->o->collection) !=
               0 ||
           access(path, R_OK) != 0 ||
           rag_store_collections_generation(r->db, r->coll_id) <= 0;
}

void
rag_ingest_format_stats(const rag_ingest_stats *st, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "pages fetched=%ld unchanged=%ld new=%ld changed=%ld "
             "deleted=%ld failed=%ld notfound=%ld duplicates=%ld skipped=%ld "
             "unvisited=%ld chunks=%ld embedded=%ld generation=%llu "
             "seconds=%.2f%s",
             st->fetched, st->unchanged, st->added, st->changed, st->deleted,
             st->failed, st->notfound, st->duplicates, st->skipped,
             st->unvisited, st->chunks, st->embedded, st->generation,
             st->seconds, st->partial ? " partial" : "");
}

int
rag_ingest_run(PGconn *db, rag_conf *conf, const rag_ingest_opts *o,
               rag_ingest_stats *st, char *err, size_t errlen)
{
    run_t r;
    const char *index_dir;
    ingest_item *items = NULL;
    size_t nitems = 0;
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
    r.copts.max_tokens =
        (size_t)rag_conf_long(conf, &rag_conf_ingest, "chunk_tokens");
    r.copts.overlap_tokens =
        rag_conf_str(conf, &rag_conf_ingest, "chunk_overlap")
            ? (size_t)rag_conf_long(conf, &rag_conf_ingest, "chunk_overlap")
            : r.copts.max_tokens * 15 / 100;
    r.copts.min_tokens = r.copts.max_tokens / 5;
    /* crawled pages: anchors must exist in the HTML, never made up */
    r.copts.explicit_ids = o->type == INGEST_SITE;
    if (!rag_collection_name_ok(o->collection)) {
        snprintf(err, errlen, "bad collection name");
        goto done;
    }
    if (rag_store_collections_upsert(db, o->collection, NULL, NULL, r.coll_id,
                                     sizeof(r.coll_id)) != 0) {
        snprintf(err, errlen, "cannot create collection");
        goto done;
    }
    {
        /* one ingest per collection at a time (CLI and worker jobs) */
        locked = rag_store_collections_try_lock(db, o->collection) == 1;
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
    /* pages by content: what is stored decides between two URLs of one
     * page, whatever order this run meets them in */
    for (size_t i = 0; i < r.map.n; i++) {
        const doc_row *d = &r.map.rows[i];
        if (strcmp(d->source, "docs") == 0 && d->content_hash[0] &&
            (!hm_get(&r.seen_hash, d->content_hash) ||
             url_better(d->url, hm_get(&r.seen_hash, d->content_hash))) &&
            hm_set(&r.seen_hash, d->content_hash, d->url) != 0) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
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
    if (o->type == INGEST_SITE || o->type == INGEST_DIR ||
        o->type == INGEST_JSON) {
        if (delete_missing(&r, "docs", err, errlen) != 0 ||
            find_boilerplate(&r, err, errlen) != 0 ||
            ingest_rechunk(&r, err, errlen) != 0)
            goto done;
    }
    if (embed_pending(&r, err, errlen) != 0)
        goto done;
    index_dir = rag_conf_str(conf, &rag_conf_common, "index_dir");
    if (need_index(&r, index_dir)) {
        rag_reindex_opts ro;
        rag_reindex_result res;
        rag_reindex_opts_load(&ro, conf);
        if (rag_reindex(db, o->collection, index_dir, &ro, &res, err, errlen) !=
            0)
            goto done;
        st->generation = res.generation;
    } else {
        /* nothing changed: the index in place is current */
        long long g = rag_store_collections_generation(db, r.coll_id);
        st->generation = g > 0 ? (unsigned long long)g : 0;
        rag_info("msg=\"nothing changed, index kept\" collection=%s "
                 "generation=%llu",
                 o->collection, st->generation);
    }
    if (save_source(&r) != 0)
        rag_warn("msg=\"cannot record the collection's source\"");
    rc = 0;
done:
    if (locked)
        rag_store_collections_unlock(db, o->collection);
    boiler_set_free(&r.bp);
    hm_free(&r.seen_hash);
    expand_harvest_free(&r.exp);
    st->seconds = rag_time_mono_s() - r.t0;
    ingest_items_free(items, nitems);
    map_free(&r.map);
    return rc;
}

/* A job may read local files only below ingest_file_root: jobs are data
 * (rows anyone with queue access can write), and reading /etc into a
 * searchable collection must not be one INSERT away. 0, -1 (a path
 * that does not resolve: it may appear) or RAG_INGEST_BAD_JOB. */
static int
file_allowed(rag_conf *conf, const char *path, char *err, size_t errlen)
{
    const char *root = rag_conf_str(conf, &rag_conf_ingest, "ingest_file_root");
    char rr[4096], rp[4096];
    size_t n;

    if (root == NULL || *root == '\0') {
        snprintf(err, errlen, "file sources in jobs need ingest_file_root");
        return RAG_INGEST_BAD_JOB;
    }
    if (realpath(root, rr) == NULL || realpath(path, rp) == NULL) {
        snprintf(err, errlen, "cannot resolve %s", path);
        return -1;
    }
    n = strlen(rr);
    if (strncmp(rp, rr, n) != 0 ||
        (rp[n] != '/' && rp[n] != '\0' && !(n == 1 && rr[0] == '/'))) {
        snprintf(err, errlen, "%s is outside ingest_file_root", path);
        return RAG_INGEST_BAD_JOB;
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
        return RAG_INGEST_BAD_JOB;
    }
    root = yajl_tree_parse(payload_json, ebuf, sizeof(ebuf));
    if (root == NULL) {
        snprintf(err, errlen, "bad payload JSON");
        return RAG_INGEST_BAD_JOB;
    }
    src = yajl_tree_get(root, src_path, yajl_t_object);
    o.collection = rag_json_str(root, "collection", NULL);
    if (o.collection && src == NULL) {
        /* no source given: re-run the one recorded for the collection */
        char *js = rag_store_collections_source(db, o.collection);
        if (js)
            saved = yajl_tree_parse(js, ebuf, sizeof(ebuf));
        free(js);
        if (saved && YAJL_IS_OBJECT(saved))
            src = saved;
    }
    type = src ? rag_json_str(src, "type", NULL) : NULL;
    if (!o.collection || !type) {
        snprintf(err, errlen,
                 "payload needs collection and source.type "
                 "(or a collection with a recorded source)");
        rc = RAG_INGEST_BAD_JOB;
        goto done;
    }
    v = yajl_tree_get(root, force_path, yajl_t_any);
    o.force = v && YAJL_IS_TRUE(v);
    o.allow_private =
        rag_conf_on(conf, &rag_conf_ingest, "ingest_allow_private");
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
            rc = RAG_INGEST_BAD_JOB;
            goto done;
        }
    } else if (strcmp(type, "dir") == 0) {
        o.type = INGEST_DIR;
        o.dir = rag_json_str(src, "dir", NULL);
        o.url_template = rag_json_str(src, "url_template", NULL);
        if (!o.dir || !o.url_template) {
            snprintf(err, errlen, "dir source needs dir and url_template");
            rc = RAG_INGEST_BAD_JOB;
            goto done;
        }
    } else if (strcmp(type, "json") == 0) {
        o.type = INGEST_JSON;
        o.json = rag_json_str(src, "file", NULL);
        if (!o.json) {
            snprintf(err, errlen, "json source needs file");
            rc = RAG_INGEST_BAD_JOB;
            goto done;
        }
    } else if (strcmp(type, "rechunk") == 0) {
        o.type = INGEST_RECHUNK;
    } else {
        snprintf(err, errlen, "unknown source type");
        rc = RAG_INGEST_BAD_JOB;
        goto done;
    }
    if ((o.type == INGEST_DIR || o.type == INGEST_JSON) &&
        (rc = file_allowed(conf, o.type == INGEST_DIR ? o.dir : o.json, err,
                           errlen)) != 0)
        goto done;
    rc = rag_ingest_run(db, conf, &o, &st, err, errlen);
    rag_ingest_format_stats(&st, line, sizeof(line));
    if (rc == 0 && st.partial)
        rag_warn("msg=\"ingest job: partial crawl, page limit reached\" "
                 "collection=\"%s\" max_pages=%ld %s",
                 o.collection, st.max_pages, line);
    else
        rag_info("msg=\"ingest job\" collection=\"%s\" ok=%d %s", o.collection,
                 rc == 0, line);
done:
    yajl_tree_free(saved);
    yajl_tree_free(root);
    return rc;
}
