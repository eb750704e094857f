#include "index_heal.h"

#include "rag_collection.h"
#include "rag_db.h"
#include "rag_index.h"
#include "rag_index_fmt.h"
#include "rag_log.h"
#include "rag_store_collections.h"
#include "rag_store_jobs.h"

#include <stdio.h>

/* Why the file needs a rebuild (static text), or NULL when it does not. */
static const char *
needs_rebuild(const char *path)
{
    char err[256];
    rag_index *ix;
    int major = rag_index_file_major(path);

    if (major == 0)
        return "missing";
    if (major > IXF_MAJOR)
        return NULL;
    if (major > 0 && major < IXF_MAJOR)
        return "older index format";
    ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL)
        return "unreadable";
    rag_index_close(ix);
    return NULL;
}

int
rag_index_heal(const char *conninfo, const char *index_dir)
{
    char err[512], path[4096], key[200], payload[200], id[32];
    PGresult *r;
    PGconn *db;
    int n = 0;

    db = rag_db_connect(conninfo, "rag-worker", err, sizeof(err));
    if (db == NULL) {
        rag_warn("msg=\"index check skipped\" error=\"%s\"", err);
        return -1;
    }
    r = rag_store_collections_indexed(db);
    if (r == NULL) {
        PQfinish(db);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        const char *gen = PQgetvalue(r, i, 1);
        const char *why;

        if (rag_index_path(path, sizeof(path), index_dir, name) != 0)
            continue;
        why = needs_rebuild(path);
        if (why == NULL)
            continue;
        /* names are validated ([A-Za-z0-9_.-]): nothing to escape */
        snprintf(payload, sizeof(payload), "{\"collection\":\"%s\"}", name);
        snprintf(key, sizeof(key), "index-heal:%s:%s", name, gen);
        if (rag_store_jobs_enqueue(db, "reindex", payload, key, 50, id,
                                   sizeof(id)) != 0)
            continue;
        rag_warn("msg=\"index file needs a rebuild: reindex enqueued\""
                 " collection=%s reason=\"%s\" path=\"%s\" job=%s",
                 name, why, path, id);
        n++;
    }
    PQclear(r);
    PQfinish(db);
    return n;
}
