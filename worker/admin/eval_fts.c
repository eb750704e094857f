/*
 * eval_fts — PostgreSQL full-text-search baseline over an index's chunks
 * (see eval_fts.h).
 */
#include "eval_fts.h"

#include "rag_buf.h"
#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FTS_COPY_FLUSH (1u << 20) /* bytes per PQputCopyData */
#define FTS_CONFIG_MAX 64

struct eval_fts {
    PGconn *db;
    char config[FTS_CONFIG_MAX];
    int tables; /* eval_fts_<n> created so far */
};

static void
quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

eval_fts *
eval_fts_new(PGconn *db, const char *config, char *err, size_t errlen)
{
    const char *p[1] = {config};
    eval_fts *f;
    PGresult *r;

    if (strlen(config) >= FTS_CONFIG_MAX) {
        snprintf(err, errlen, "text search configuration name too long");
        return NULL;
    }
    r = rag_db_query(db, "SELECT $1::regconfig::oid", 1, p);
    if (r == NULL) {
        snprintf(err, errlen, "unknown text search configuration %s", config);
        return NULL;
    }
    PQclear(r);
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->db = db;
    snprintf(f->config, sizeof(f->config), "%s", config);
    PQsetNoticeProcessor(db, quiet_notices, NULL);
    return f;
}

void
eval_fts_free(eval_fts *f)
{
    free(f);
}

/* COPY text format: backslash, tab, newline and CR escaped. */
static int
put_field(rag_buf *b, const char *s, size_t n)
{
    size_t i, from = 0;

    for (i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        if (rag_buf_append(b, s + from, i - from) != 0 ||
            rag_buf_puts(b, esc) != 0)
            return -1;
        from = i + 1;
    }
    return rag_buf_append(b, s + from, n - from);
}

static int
copy_flush(PGconn *db, rag_buf *b)
{
    if (b->len > 0 && PQputCopyData(db, b->data, (int)b->len) != 1)
        return -1;
    rag_buf_reset(b);
    return 0;
}

/* Streams every record as "rec<TAB>url<TAB>title\nheading\nbody". */
static int
copy_records(eval_fts *f, const rag_index *ix, char *err, size_t errlen)
{
    uint32_t i, n = rag_index_count(ix);
    rag_index_buf zb = {NULL, 0, NULL};
    rag_buf b;
    PGresult *r;
    int rc = -1;

    rag_buf_init(&b, 0);
    for (i = 0; i < n; i++) {
        rag_index_chunk c;
        rag_str body;

        if (rag_index_chunk_get(ix, i, &c) != 0 ||
            rag_index_chunk_body(ix, i, &zb, &body) != 0) {
            snprintf(err, errlen, "index record %u unreadable", i);
            goto done;
        }
        if (rag_buf_printf(&b, "%u\t", i) != 0 ||
            put_field(&b, c.url.p, c.url.len) != 0 ||
            rag_buf_putc(&b, '\t') != 0 ||
            put_field(&b, c.title.p, c.title.len) != 0 ||
            rag_buf_puts(&b, "\\n") != 0 ||
            put_field(&b, c.heading_path.p, c.heading_path.len) != 0 ||
            rag_buf_puts(&b, "\\n") != 0 ||
            put_field(&b, body.p, body.len) != 0 ||
            rag_buf_putc(&b, '\n') != 0) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
        if (b.len >= FTS_COPY_FLUSH && copy_flush(f->db, &b) != 0) {
            snprintf(err, errlen, "COPY: %s", PQerrorMessage(f->db));
            goto done;
        }
    }
    if (copy_flush(f->db, &b) != 0) {
        snprintf(err, errlen, "COPY: %s", PQerrorMessage(f->db));
        goto done;
    }
    rc = 0;
done:
    rag_index_buf_free(&zb);
    /* end the COPY either way so the connection stays usable */
    if (PQputCopyEnd(f->db, rc == 0 ? NULL : "eval aborted") != 1)
        rc = -1;
    while ((r = PQgetResult(f->db)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            snprintf(err, errlen, "COPY: %s", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    rag_buf_free(&b);
    return rc;
}

int
eval_fts_load(eval_fts *f, const rag_index *ix, char *err, size_t errlen)
{
    char sql[512], *lit;
    int t = f->tables;
    PGresult *r;

    lit = PQescapeLiteral(f->db, f->config, strlen(f->config));
    if (lit == NULL) {
        snprintf(err, errlen, "%s", PQerrorMessage(f->db));
        return -1;
    }
    /* a generated column: the tsvector is computed once, during COPY */
    snprintf(sql, sizeof(sql),
             "CREATE TEMP TABLE eval_fts_%d (rec int4 PRIMARY KEY,"
             " url text NOT NULL, doc text NOT NULL, tsv tsvector"
             " GENERATED ALWAYS AS (to_tsvector(%s::regconfig, doc)) STORED)",
             t, lit);
    PQfreemem(lit);
    if (rag_db_exec(f->db, sql, 0, NULL) != 0) {
        snprintf(err, errlen, "cannot create the full-text table");
        return -1;
    }
    f->tables++;
    snprintf(sql, sizeof(sql), "COPY eval_fts_%d (rec, url, doc) FROM STDIN",
             t);
    r = PQexec(f->db, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        snprintf(err, errlen, "COPY: %s", PQerrorMessage(f->db));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (copy_records(f, ix, err, errlen) != 0)
        return -1;
    snprintf(sql, sizeof(sql), "CREATE INDEX ON eval_fts_%d USING gin (tsv)",
             t);
    if (rag_db_exec(f->db, sql, 0, NULL) != 0) {
        snprintf(err, errlen, "cannot index the full-text table");
        return -1;
    }
    snprintf(sql, sizeof(sql), "ANALYZE eval_fts_%d", t);
    if (rag_db_exec(f->db, sql, 0, NULL) != 0) {
        snprintf(err, errlen, "cannot analyze the full-text table");
        return -1;
    }
    return t;
}

PGresult *
eval_fts_search(eval_fts *f, int table, enum eval_fts_mode mode, const char *q,
                size_t k, char *err, size_t errlen)
{
    char sql[512], kbuf[24];
    const char *p[3] = {q, f->config, kbuf};
    PGresult *r;

    if (table < 0 || table >= f->tables) {
        snprintf(err, errlen, "no full-text table %d", table);
        return NULL;
    }
    snprintf(kbuf, sizeof(kbuf), "%zu", k);
    snprintf(sql, sizeof(sql),
             "SELECT url FROM eval_fts_%d, (SELECT %s AS q) x"
             " WHERE tsv @@ q ORDER BY ts_rank_cd(tsv, q) DESC, rec"
             " LIMIT $3::int",
             table,
             mode == EVAL_FTS_AND
                 ? "plainto_tsquery($2::regconfig, $1)"
                 : "replace(plainto_tsquery($2::regconfig, $1)::text,"
                   " ' & ', ' | ')::tsquery");
    r = rag_db_query(f->db, sql, 3, p);
    if (r == NULL)
        snprintf(err, errlen, "full-text query failed");
    return r;
}
