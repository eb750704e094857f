#include "rag_reindex.h"

#include "rag_db.h"
#include "rag_index.h"
#include "rag_log.h"
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
    memset(o, 0, sizeof(*o));
    ft_train_conf_load(&o->ft, conf);
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

int
rag_reindex_collection(PGconn *db, const char *collection,
                       const char *index_dir, char *err, size_t errlen)
{
    return rag_reindex_collection2(db, collection, index_dir, NULL, NULL, err,
                                   errlen);
}

/* Writes the collection's chunks (coll_id) as an index of generation gen
 * at path, inside the caller's transaction. 0, or -1 with err filled. */
static int
write_index(PGconn *db, long long coll_id, const char *collection,
            const char *path, uint64_t gen, const rag_reindex_opts *opts,
            uint32_t *count, char *err, size_t errlen)
{
    char sql[1024], idbuf[32];
    const char *p[1], *sem = "off";
    PGresult *r = NULL;
    rag_index_writer *w = NULL;
    reindex_ft ft;
    float *vec = NULL;
    uint32_t dims = 0, n = 0;
    int rc = -1;

    reindex_ft_begin(&ft, &opts->ft, path);
    snprintf(idbuf, sizeof(idbuf), "%lld", coll_id);
    /* vector size: the most common one among embedded chunks */
    p[0] = idbuf;
    r = rag_db_query(db,
                     "SELECT array_length(c.embedding, 1), count(*)"
                     " FROM chunks c JOIN documents d ON d.id = c.document_id"
                     " WHERE d.collection_id = $1 AND c.embedding IS NOT NULL"
                     " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
                     1, p);
    if (r == NULL) {
        snprintf(err, errlen, "database: embedding size query failed");
        goto done;
    }
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        long d = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (d > 0 && d <= REINDEX_MAX_DIMS)
            dims = (uint32_t)d;
    }
    PQclear(r);
    r = NULL;

    w = rag_index_writer_new(dims);
    vec = malloc(((size_t)dims + 1) * sizeof(float));
    if (w == NULL || vec == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    snprintf(sql, sizeof(sql),
             "DECLARE rag_reindex_cur NO SCROLL CURSOR FOR"
             " SELECT c.id, CASE WHEN c.anchor <> ''"
             "   THEN d.url || '#' || c.anchor ELSE d.url END,"
             " d.title, c.heading_path, c.body,"
             " CASE WHEN array_length(c.embedding, 1) = %u"
             "   THEN c.embedding::text END"
             " FROM chunks c JOIN documents d ON d.id = c.document_id"
             " WHERE d.collection_id = %lld"
             " ORDER BY d.url, c.ordinal, c.id",
             dims, coll_id);
    if (rag_db_exec(db, sql, 0, NULL) != 0) {
        snprintf(err, errlen, "database: cannot read chunks");
        goto done;
    }
    for (;;) {
        int rows;
        r = rag_db_query(db, "FETCH 1000 FROM rag_reindex_cur", 0, NULL);
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
            if (rag_index_writer_add(w, &in) != 0) {
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
             " chunks=%u dims=%u semantic=\"%s\"",
             path, gen, n, dims, sem);
    if (count)
        *count = n;
    rc = 0;
done:
    PQclear(r);
    rag_index_writer_free(w);
    reindex_ft_free(&ft);
    free(vec);
    return rc;
}

int
rag_reindex_collection2(PGconn *db, const char *collection,
                        const char *index_dir, uint64_t *generation,
                        uint32_t *count, char *err, size_t errlen)
{
    return rag_reindex_collection_opts(db, collection, index_dir, NULL,
                                       generation, count, err, errlen);
}

int
rag_reindex_collection_opts(PGconn *db, const char *collection,
                            const char *index_dir,
                            const rag_reindex_opts *opts,
                            uint64_t *generation, uint32_t *count,
                            char *err, size_t errlen)
{
    rag_reindex_opts def;
    char path[4096], idbuf[32], genbuf[32];
    const char *p[3];
    PGresult *r = NULL;
    uint64_t gen;
    long long coll_id;
    int rc = -1, in_tx = 0;

    if (rag_index_path(path, sizeof(path), index_dir, collection) != 0) {
        snprintf(err, errlen, "invalid collection name or index dir");
        return -1;
    }
    if (rag_db_begin(db) != 0) {
        snprintf(err, errlen, "database: cannot begin: %s", PQerrorMessage(db));
        return -1;
    }
    in_tx = 1;
    /* the row lock serialises reindexes of this collection */
    p[0] = collection;
    r = rag_db_query(db,
                     "SELECT id, index_generation FROM collections"
                     " WHERE name = $1 FOR UPDATE",
                     1, p);
    if (r == NULL) {
        snprintf(err, errlen, "database: collection lookup failed");
        goto done;
    }
    if (PQntuples(r) != 1) {
        snprintf(err, errlen, "unknown collection %s", collection);
        goto done;
    }
    coll_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    gen = strtoull(PQgetvalue(r, 0, 1), NULL, 10) + 1;
    PQclear(r);
    r = NULL;
    if (write_index(db, coll_id, collection, path, gen,
                    opts_or_default(opts, &def), count, err, errlen) != 0)
        goto done;

    snprintf(idbuf, sizeof(idbuf), "%lld", coll_id);
    snprintf(genbuf, sizeof(genbuf), "%" PRIu64, gen);
    p[0] = idbuf;
    p[1] = genbuf;
    p[2] = path;
    if (rag_db_exec(db,
                    "UPDATE collections SET index_generation = $2,"
                    " index_path = $3, indexed_at = now() WHERE id = $1",
                    3, p) != 0 ||
        rag_db_commit(db) != 0) {
        snprintf(err, errlen, "database: cannot record generation %" PRIu64,
                 gen);
        goto done;
    }
    in_tx = 0;
    if (generation)
        *generation = gen;
    rc = 0;
done:
    PQclear(r);
    if (in_tx)
        rag_db_rollback(db);
    return rc;
}

int
rag_reindex_mirror(PGconn *db, const char *collection, const char *index_dir,
                   uint64_t *generation, uint32_t *count, char *err,
                   size_t errlen)
{
    return rag_reindex_mirror_opts(db, collection, index_dir, NULL,
                                   generation, count, err, errlen);
}

int
rag_reindex_mirror_opts(PGconn *db, const char *collection,
                        const char *index_dir, const rag_reindex_opts *opts,
                        uint64_t *generation, uint32_t *count, char *err,
                        size_t errlen)
{
    rag_reindex_opts def;
    char path[4096];
    const char *p[1];
    PGresult *r = NULL;
    uint64_t gen;
    long long coll_id;
    int rc = -1, in_tx = 0;

    if (rag_index_path(path, sizeof(path), index_dir, collection) != 0) {
        snprintf(err, errlen, "invalid collection name or index dir");
        return -1;
    }
    /* one snapshot for the generation and the rows; no row lock, so
     * followers never hold up the primary's reindexes */
    if (rag_db_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                    NULL) != 0) {
        snprintf(err, errlen, "database: cannot begin: %s", PQerrorMessage(db));
        return -1;
    }
    in_tx = 1;
    p[0] = collection;
    r = rag_db_query(db,
                     "SELECT id, index_generation FROM collections"
                     " WHERE name = $1",
                     1, p);
    if (r == NULL) {
        snprintf(err, errlen, "database: collection lookup failed");
        goto done;
    }
    if (PQntuples(r) != 1) {
        snprintf(err, errlen, "unknown collection %s", collection);
        goto done;
    }
    coll_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    gen = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    r = NULL;
    if (gen == 0) {
        snprintf(err, errlen, "collection %s has never been indexed",
                 collection);
        goto done;
    }
    if (write_index(db, coll_id, collection, path, gen,
                    opts_or_default(opts, &def), count, err, errlen) != 0)
        goto done;
    if (generation)
        *generation = gen;
    rc = 0;
done:
    PQclear(r);
    if (in_tx)
        rag_db_rollback(db);
    return rc;
}
