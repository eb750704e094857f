#include "rag_reindex.h"

#include "conf_tables.h"
#include "rag_db.h"
#include "rag_index.h"
#include "rag_log.h"
#include "rag_store_chunks.h"
#include "rag_store_collections.h"
#include "rag_store_expansions.h"
#include "reindex_ft.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REINDEX_FETCH 1000
#define REINDEX_MAX_DIMS 8192

/* Parses a Postgres real[] text form "{1,-2.5e-3,...}" into dims floats.
 * 0, or -1 when malformed or of another length. */
static int
parse_vec(const char *s, float *out, uint32_t dims)
{
    uint32_t i = 0;
    char *end;

    if (*s++ != '{')
        return -1;
    while (*s && *s != '}') {
        if (i >= dims)
            return -1;
        errno = 0;
        out[i] = strtof(s, &end);
        if (end == s || errno == ERANGE || !isfinite(out[i]))
            return -1;
        i++;
        s = end;
        if (*s == ',')
            s++;
    }
    return *s == '}' && i == dims ? 0 : -1;
}

void
rag_reindex_opts_load(rag_reindex_opts *o, rag_conf *conf)
{
    char err[128];
    rag_conf *env = conf ? NULL : rag_conf_load(NULL, err, sizeof(err));

    memset(o, 0, sizeof(*o));
    ft_train_conf_load(&o->ft, conf);
    o->expand = strcmp(rag_conf_str(conf ? conf : env, &rag_conf_index,
                                    "index_expansion"),
                       "on") == 0;
    if (env)
        rag_conf_free(env);
}

/* opts, or the defaults (and environment) in *def */
static const rag_reindex_opts *
opts_or_default(const rag_reindex_opts *opts, rag_reindex_opts *def)
{
    if (opts != NULL)
        return opts;
    rag_reindex_opts_load(def, NULL);
    return def;
}

/* The index terms of each chunk (rag_store_expansions_by_chunk), looked
 * up by chunk id. */
typedef struct {
    PGresult *res;
    long long *ids; /* the rows' chunk ids, ascending */
    int n;
} chunk_terms;

static int
chunk_terms_load(PGconn *db, long long coll_id, chunk_terms *ct)
{
    memset(ct, 0, sizeof(*ct));
    if ((ct->res = rag_store_expansions_by_chunk(db, coll_id)) == NULL)
        return -1;
    ct->n = PQntuples(ct->res);
    if (ct->n && (ct->ids = malloc((size_t)ct->n * sizeof(*ct->ids))) == NULL)
        return -1;
    for (int i = 0; i < ct->n; i++)
        ct->ids[i] = strtoll(PQgetvalue(ct->res, i, 0), NULL, 10);
    return 0;
}

/* The chunk's terms, or NULL. */
static const char *
chunk_terms_get(const chunk_terms *ct, long long id)
{
    int lo = 0, hi = ct->n;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ct->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ct->n && ct->ids[lo] == id ? PQgetvalue(ct->res, lo, 1) : NULL;
}

static void
chunk_terms_free(chunk_terms *ct)
{
    PQclear(ct->res);
    free(ct->ids);
    memset(ct, 0, sizeof(*ct));
}

/* Writes the collection's chunks (coll_id) as an index of generation gen
 * at path, inside the caller's transaction. 0, or -1 with err filled. */
static int
write_index(PGconn *db, long long coll_id, const char *collection,
            const char *language, const char *path, uint64_t gen,
            const rag_reindex_opts *opts, uint32_t *count, char *err,
            size_t errlen)
{
    const char *sem = "off";
    PGresult *r = NULL;
    rag_index_writer *w = NULL;
    reindex_ft ft;
    chunk_terms ct = {0};
    float *vec = NULL;
    uint32_t dims = 0, n = 0;
    long d;
    int rc = -1;

    reindex_ft_begin(&ft, &opts->ft, path);
    /* vector size: the most common one among embedded chunks */
    d = rag_store_chunks_common_dims(db, coll_id, REINDEX_MAX_DIMS);
    if (d < 0) {
        snprintf(err, errlen, "database: embedding size query failed");
        goto done;
    }
    dims = (uint32_t)d;
    w = rag_index_writer_new(dims);
    vec = malloc(((size_t)dims + 1) * sizeof(float));
    if (w == NULL || vec == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    /* the collection's stemmer (NULL: the built-in English one),
     * recorded in the index for the queries */
    if (rag_index_writer_set_language(w, language, err, errlen) != 0) {
        char why[600];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "collection %s: %s", collection, why);
        goto done;
    }
    if (opts->expand && chunk_terms_load(db, coll_id, &ct) != 0) {
        snprintf(err, errlen, "database: cannot read the index terms");
        goto done;
    }
    if (rag_store_chunks_index_open(db, coll_id, dims) != 0) {
        snprintf(err, errlen, "database: cannot read chunks");
        goto done;
    }
    for (;;) {
        int rows;
        r = rag_store_chunks_index_fetch(db, REINDEX_FETCH);
        if (r == NULL) {
            snprintf(err, errlen, "database: fetch failed");
            goto done;
        }
        rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            rag_index_input in;
            in.chunk_id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            in.url = PQgetvalue(r, i, 1);
            in.title = PQgetvalue(r, i, 2);
            in.heading_path = PQgetvalue(r, i, 3);
            in.body = PQgetvalue(r, i, 4);
            in.embedding = NULL;
            if (dims && !PQgetisnull(r, i, 5)) {
                if (parse_vec(PQgetvalue(r, i, 5), vec, dims) == 0)
                    in.embedding = vec;
                else
                    rag_warn("msg=\"bad embedding, indexed without it\""
                             " chunk=%lld",
                             (long long)in.chunk_id);
            }
            if (rag_index_writer_add_expanded(
                    w, &in, chunk_terms_get(&ct, in.chunk_id)) != 0) {
                const char *why = rag_index_writer_error(w);
                snprintf(err, errlen, "index writer: cannot add chunk %lld: %s",
                         (long long)in.chunk_id,
                         *why ? why : "a field is over 64 MB");
                goto done;
            }
            reindex_ft_add(&ft, in.title, in.heading_path, in.body);
            n++;
        }
        PQclear(r);
        r = NULL;
        if (rows < REINDEX_FETCH)
            break;
    }
    reindex_ft_finish(&ft, w, collection, gen, opts->retrain, &sem);
    if (rag_index_writer_write(w, path, gen, err, errlen) != 0)
        goto done;
    rag_info("msg=\"index written\" path=\"%s\" generation=%" PRIu64
             " chunks=%u dims=%u semantic=\"%s\" expanded=%d",
             path, gen, n, dims, sem, ct.n);
    if (count)
        *count = n;
    rc = 0;
done:
    PQclear(r);
    rag_index_writer_free(w);
    reindex_ft_free(&ft);
    chunk_terms_free(&ct);
    free(vec);
    return rc;
}

/* Load: opens the transaction and finds the collection's id and the
 * generation to write — the next one under the row lock (which
 * serialises reindexes of one collection), or, mirroring, the recorded
 * one from one REPEATABLE READ snapshot without a lock (followers never
 * hold up the primary's reindexes); and its language into lang (""
 * when it has none). 0 inside the transaction, or -1 with err filled
 * and no transaction open. */
static int
reindex_begin(PGconn *db, const char *collection, int mirror,
              long long *coll_id, uint64_t *gen, char *lang, size_t langlen,
              char *err, size_t errlen)
{
    unsigned long long recorded = 0;
    int found;

    if (mirror
            ? rag_db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                          0, NULL)
            : rag_db_begin(db)) {
        snprintf(err, errlen, "database: cannot begin: %s", PQerrorMessage(db));
        return -1;
    }
    found = rag_store_collections_index_row(db, collection, !mirror, coll_id,
                                            &recorded, lang, langlen);
    if (found != 1) {
        if (found < 0)
            snprintf(err, errlen, "database: collection lookup failed");
        else
            snprintf(err, errlen, "unknown collection %s", collection);
        rag_db_rollback(db);
        return -1;
    }
    *gen = recorded + (mirror ? 0 : 1);
    if (*gen == 0) {
        snprintf(err, errlen, "collection %s has never been indexed",
                 collection);
        rag_db_rollback(db);
        return -1;
    }
    return 0;
}

/* Commit: records the generation written at path and ends the
 * transaction. 0, or -1 with err filled (rolled back). */
static int
reindex_record(PGconn *db, long long coll_id, uint64_t gen, const char *path,
               char *err, size_t errlen)
{
    if (rag_store_collections_set_indexed(db, coll_id, gen, path) != 0 ||
        rag_db_commit(db) != 0) {
        snprintf(err, errlen, "database: cannot record generation %" PRIu64,
                 gen);
        rag_db_rollback(db);
        return -1;
    }
    return 0;
}

int
rag_reindex(PGconn *db, const char *collection, const char *index_dir,
            const rag_reindex_opts *opts, rag_reindex_result *res, char *err,
            size_t errlen)
{
    rag_reindex_opts def;
    char path[4096], lang[64];
    uint64_t gen;
    uint32_t count = 0;
    long long coll_id;

    opts = opts_or_default(opts, &def);
    if (rag_index_path(path, sizeof(path), index_dir, collection) != 0) {
        snprintf(err, errlen, "invalid collection name or index dir");
        return -1;
    }
    if (reindex_begin(db, collection, opts->mirror, &coll_id, &gen, lang,
                      sizeof(lang), err, errlen) != 0)
        return -1;
    if (write_index(db, coll_id, collection, *lang ? lang : NULL, path, gen,
                    opts, &count, err, errlen) != 0) {
        rag_db_rollback(db);
        return -1;
    }
    if (opts->mirror)
        rag_db_rollback(db); /* read only: nothing to keep */
    else if (reindex_record(db, coll_id, gen, path, err, errlen) != 0)
        return -1;
    if (res) {
        res->generation = gen;
        res->count = count;
    }
    return 0;
}
