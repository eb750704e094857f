#include "rag_follow.h"

#include "rag_db.h"
#include "rag_index.h"
#include "rag_log.h"
#include "rag_reindex.h"
#include "rag_store_collections.h"
#include "rag_time.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FOLLOW_MAX_CACHED 512 /* collections remembered; more still synced */
#define FOLLOW_MAX_PENDING 64 /* notified names per round; more: full sync */
#define FOLLOW_WAIT_SLICE_MS 1000

typedef struct {
    char name[65];
    uint64_t gen;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} follow_ent;

typedef struct {
    const rag_follow_conf *c;
    PGconn *db;
    follow_ent ents[FOLLOW_MAX_CACHED];
    size_t n;
    int failed; /* a rebuild failed: retry after retry_ms */
    char pending[FOLLOW_MAX_PENDING][65]; /* names notified this round */
} follower;

static follow_ent *
ent_get(follower *f, const char *name, int create)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->ents[i].name, name) == 0)
            return &f->ents[i];
    if (!create || f->n == FOLLOW_MAX_CACHED)
        return NULL;
    memset(&f->ents[f->n], 0, sizeof(f->ents[0]));
    snprintf(f->ents[f->n].name, sizeof(f->ents[0].name), "%s", name);
    return &f->ents[f->n++];
}

static int
same_file(const follow_ent *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino &&
           e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
           e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void
remember(follow_ent *e, const struct stat *st, uint64_t gen)
{
    if (e == NULL)
        return;
    e->gen = gen;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->size = st->st_size;
    e->mtime = st->st_mtim;
}

/* Generation of the file on disk: 0 when missing or invalid. Opens (and
 * so validates) a file only when it is not the one last seen. */
static uint64_t
local_generation(follower *f, const char *name, const char *path)
{
    follow_ent *e = ent_get(f, name, 1);
    struct stat st;
    char err[256];
    rag_index *ix;
    uint64_t gen;

    if (stat(path, &st) != 0)
        return 0;
    if (e && e->gen && same_file(e, &st))
        return e->gen;
    ix = rag_index_open(path, err, sizeof(err));
    if (ix == NULL) {
        rag_warn("msg=\"local index unusable, rebuilding\" path=\"%s\""
                 " error=\"%s\"",
                 path, err);
        return 0;
    }
    gen = rag_index_generation(ix);
    rag_index_close(ix);
    remember(e, &st, gen);
    return gen;
}

/* Brings one collection's file to the recorded generation. */
static void
sync_one(follower *f, const char *name, uint64_t recorded)
{
    char path[4096], err[512];
    rag_reindex_opts ro;
    rag_reindex_result res;
    uint64_t local;
    struct stat st;
    long t0;

    if (recorded == 0 ||
        rag_index_path(path, sizeof(path), f->c->index_dir, name) != 0)
        return;
    local = local_generation(f, name, path);
    if (local == recorded)
        return;
    t0 = rag_time_mono_ms();
    if (f->c->reindex != NULL)
        ro = *f->c->reindex;
    else
        rag_reindex_opts_load(&ro, NULL);
    ro.mirror = 1;
    if (rag_reindex(f->db, name, f->c->index_dir, &ro, &res, err,
                    sizeof(err)) != 0) {
        rag_warn("msg=\"follow rebuild failed\" collection=%s error=\"%s\"",
                 name, err);
        f->failed = 1;
        return;
    }
    if (stat(path, &st) == 0)
        remember(ent_get(f, name, 1), &st, res.generation);
    rag_info("msg=\"index followed\" collection=%s generation=%" PRIu64
             " previous=%" PRIu64 " chunks=%u ms=%ld",
             name, res.generation, local, res.count, rag_time_mono_ms() - t0);
}

/* Compares every indexed collection with its file. -1 when the query
 * failed (connection trouble). */
static int
sync_all(follower *f)
{
    PGresult *r;

    r = rag_store_collections_indexed(f->db);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r) && !*f->c->stop; i++)
        sync_one(f, PQgetvalue(r, i, 0),
                 strtoull(PQgetvalue(r, i, 1), NULL, 10));
    PQclear(r);
    return 0;
}

static int
sync_named(follower *f, const char *name)
{
    long long gen = rag_store_collections_generation_named(f->db, name);

    if (gen < 0)
        return -1;
    sync_one(f, name, (uint64_t)gen);
    return 0;
}

static int
connect_and_listen(follower *f)
{
    char err[512];

    f->db = rag_db_connect(f->c->conninfo, "rag-follow", err, sizeof(err));
    if (f->db == NULL) {
        rag_warn("msg=\"follow: database unreachable\" error=\"%s\"", err);
        return -1;
    }
    if (rag_store_collections_listen(f->db) != 0) {
        PQfinish(f->db);
        f->db = NULL;
        return -1;
    }
    rag_info("msg=\"following index generations\" dir=\"%s\"", f->c->index_dir);
    return 0;
}

/* Takes the notifications libpq has buffered. Returns how many names
 * were queued; *overflow when some were dropped (then sync everything). */
static size_t
drain(follower *f, int *overflow)
{
    char(*names)[65] = f->pending;
    PGnotify *nt;
    size_t n = 0, i;

    while ((nt = PQnotifies(f->db)) != NULL) {
        const char *name = nt->extra;
        if (rag_collection_name_ok(name)) {
            for (i = 0; i < n && strcmp(names[i], name) != 0; i++)
                ;
            if (i == n) {
                if (n < FOLLOW_MAX_PENDING)
                    snprintf(names[n++], 65, "%s", name);
                else
                    *overflow = 1;
            }
        }
        PQfreemem(nt);
    }
    return n;
}

static void
disconnect(follower *f)
{
    PQfinish(f->db);
    f->db = NULL;
}

int
rag_follow_run(const rag_follow_conf *c)
{
    follower *f;
    long poll_ms = c->poll_ms > 0 ? c->poll_ms : 30000;
    long retry_ms = c->retry_ms > 0 ? c->retry_ms : 1000;
    long next_full = 0, next_retry = 0, now, wait;
    int full = 1, overflow;

    if (access(c->index_dir, W_OK | X_OK) != 0) {
        rag_error("msg=\"index directory not writable\" dir=\"%s\""
                  " error=\"%s\"",
                  c->index_dir, strerror(errno));
        return 1;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return 1;
    f->c = c;
    while (!*c->stop) {
        if (f->db == NULL || PQstatus(f->db) != CONNECTION_OK) {
            if (f->db)
                disconnect(f);
            if (connect_and_listen(f) != 0) {
                rag_time_sleep_until_stop(retry_ms, c->stop);
                continue;
            }
            full = 1; /* catch up on whatever happened while away */
        }
        now = rag_time_mono_ms();
        if (full || now >= next_full || (f->failed && now >= next_retry)) {
            f->failed = 0;
            if (sync_all(f) != 0) {
                disconnect(f);
                continue;
            }
            full = 0;
            next_full = now + poll_ms;
            next_retry = rag_time_mono_ms() + retry_ms;
        }
        /* notifications buffered while the syncs ran come first */
        overflow = 0;
        for (size_t n; (n = drain(f, &overflow)) > 0 && !*c->stop;) {
            for (size_t i = 0; i < n; i++)
                if (sync_named(f, f->pending[i]) != 0)
                    break;
            if (f->failed)
                next_retry = rag_time_mono_ms() + retry_ms;
        }
        if (overflow) {
            full = 1;
            continue;
        }
        now = rag_time_mono_ms();
        wait = next_full - now;
        if (f->failed && next_retry - now < wait)
            wait = next_retry - now;
        if (wait > FOLLOW_WAIT_SLICE_MS)
            wait = FOLLOW_WAIT_SLICE_MS;
        if (wait > 0 && !*c->stop) {
            struct pollfd pfd = {.fd = PQsocket(f->db), .events = POLLIN};
            if (poll(&pfd, 1, (int)wait) < 0 && errno != EINTR) {
                disconnect(f);
                continue;
            }
        }
        if (PQconsumeInput(f->db) == 0) {
            rag_warn("msg=\"follow: connection lost\" error=\"%s\"",
                     PQerrorMessage(f->db));
            disconnect(f);
        }
    }
    if (f->db)
        disconnect(f);
    free(f);
    return 0;
}
