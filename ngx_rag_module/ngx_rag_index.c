/*
 * The index manager: each nginx worker process keeps read-only mappings
 * of <rag_index_dir>/<collection>.idx files, shared by all its requests
 * and keyed by path. The event loop stat()s a file at most every 100 ms;
 * when it changed, the next request's task opens (and fully validates)
 * the new file in its pool thread while other requests keep using the
 * current one. When that request ends, on the event loop, the new index
 * is installed; the old mapping is refcounted (the manager's reference
 * plus one per in-flight pin) and unmapped on the event loop when the
 * last request using it is done. So a new generation is picked up
 * without reload and without failing a request. Requests that arrive
 * while a worker's first load of a file is under way wait for it
 * (queued on the entry, no thread held) instead of each opening the
 * file. See ngx_rag_index.h for the calls.
 */

#include "ngx_rag_module.h"
#include "ngx_rag_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NGX_RAG_IX_CHECK_MS        100
#define NGX_RAG_IX_MAX_ENTRIES     256
#define NGX_RAG_IX_MAX_PATH        1024


/* One opened index; refs = 1 while current + 1 per task using it. */
typedef struct {
    rag_index   *ix;
    ngx_uint_t   refs;
} ngx_rag_ixref_t;


typedef struct {
    char              path[NGX_RAG_IX_MAX_PATH];
    ngx_rag_ixref_t  *cur;
    ngx_msec_t        checked;
    unsigned          checked_once:1;
    unsigned          stale:1;    /* the file differs from cur */
    unsigned          loading:1;  /* a task is opening it */
    unsigned          broken:1;   /* this file failed validation */
    /* identity of the file cur (or the load in progress) came from */
    dev_t             dev;
    ino_t             ino;
    off_t             size;
    struct timespec   mtime;
    ngx_uint_t        load_seq;      /* last load handed to a task */
    ngx_uint_t        installed_seq; /* load that produced cur */
    /* requests that arrived while the first load of this file ran: they
     * are posted when it ends, so a burst opens the file once */
    ngx_queue_t       waiters;
} ngx_rag_ixent_t;


/*
 * Process-wide on purpose: the index mappings belong to this nginx
 * worker process and are shared by all its requests; touched only on the
 * event loop thread.
 */
static ngx_rag_ixent_t  *ngx_rag_ix_entries;
static ngx_uint_t        ngx_rag_ix_nentries;
/* bodies of the searches run on the event loop, one at a time: keeping
 * the zstd context and buffer saves ~18 us a query (bench/search.pl) */
static rag_index_buf     ngx_rag_ix_scratch;


/* A request's hold on one collection's index. */
struct ngx_rag_index_pin_s {
    /* set on the event loop */
    ngx_rag_ixent_t   *ent;
    ngx_rag_ixref_t   *ref;        /* current index, or NULL */
    ngx_uint_t         load_seq;   /* != 0: open the file in the thread */
    char              *path;

    /* set by the thread */
    rag_index         *opened;
    char               open_err[256];
    unsigned           open_enoent:1;
    unsigned           tried:1;

    unsigned           released:1;
};


/* A request parked until its index's first load ends (r->pool). */
typedef struct {
    ngx_queue_t               queue;
    ngx_http_request_t       *request;
    ngx_rag_index_resume_pt   resume;
    void                     *data;
    unsigned                  linked:1;
} ngx_rag_index_waiter_t;


static void ngx_rag_index_cleanup(void *data);
static void ngx_rag_ix_wake(ngx_rag_ixent_t *e);


/* ---- entries (event loop only) ------------------------------------------ */

static void
ngx_rag_ixref_release(ngx_rag_ixref_t *ref)
{
    if (ref == NULL) {
        return;
    }

    if (--ref->refs == 0) {
        rag_index_close(ref->ix);
        free(ref);
    }
}


static ngx_rag_ixent_t *
ngx_rag_ix_entry(const char *path)
{
    ngx_uint_t        i;
    ngx_rag_ixent_t  *e;

    if (ngx_rag_ix_entries == NULL) {
        ngx_rag_ix_entries = calloc(NGX_RAG_IX_MAX_ENTRIES,
                                    sizeof(ngx_rag_ixent_t));
        if (ngx_rag_ix_entries == NULL) {
            return NULL;
        }
    }

    for (i = 0; i < ngx_rag_ix_nentries; i++) {
        if (strcmp(ngx_rag_ix_entries[i].path, path) == 0) {
            return &ngx_rag_ix_entries[i];
        }
    }

    if (ngx_rag_ix_nentries == NGX_RAG_IX_MAX_ENTRIES) {
        return NULL;
    }

    e = &ngx_rag_ix_entries[ngx_rag_ix_nentries++];
    ngx_cpystrn((u_char *) e->path, (u_char *) path, sizeof(e->path));
    ngx_queue_init(&e->waiters);

    return e;
}


/*
 * Refreshes the entry's view of the file (stat at most every 100 ms).
 * Returns NGX_OK when a search can go ahead (an index is loaded or being
 * loaded), NGX_DECLINED when the file does not exist, NGX_ABORT when the
 * only file there failed validation.
 */
static ngx_int_t
ngx_rag_ix_check(ngx_rag_ixent_t *e, ngx_log_t *log)
{
    struct stat  st;

    if (!e->checked_once
        || (ngx_msec_int_t) (ngx_current_msec - e->checked)
           >= NGX_RAG_IX_CHECK_MS)
    {
        e->checked = ngx_current_msec;
        e->checked_once = 1;

        if (stat(e->path, &st) != 0) {
            if (errno != ENOENT) {
                ngx_log_error(NGX_LOG_ERR, log, errno, "stat \"%s\" failed",
                              e->path);
            }

            /* the collection's index is gone: stop serving it */
            if (e->cur) {
                ngx_rag_ixref_release(e->cur);
                e->cur = NULL;
            }
            e->stale = 0;
            e->broken = 0;
            e->dev = 0;
            e->ino = 0;
            return NGX_DECLINED;
        }

        if (st.st_dev != e->dev || st.st_ino != e->ino
            || st.st_size != e->size
            || st.st_mtim.tv_sec != e->mtime.tv_sec
            || st.st_mtim.tv_nsec != e->mtime.tv_nsec)
        {
            /* a new file: (re)load it, even if the last one was bad */
            e->stale = 1;
            e->broken = 0;
            e->dev = st.st_dev;
            e->ino = st.st_ino;
            e->size = st.st_size;
            e->mtime = st.st_mtim;

        } else if (e->cur == NULL && !e->loading && !e->broken) {
            e->stale = 1;
        }
    }

    if (e->cur || e->stale || e->loading) {
        return NGX_OK;
    }

    return e->broken ? NGX_ABORT : NGX_DECLINED;
}


/* ---- pins ---------------------------------------------------------------- */

ngx_int_t
ngx_rag_index_name_ok(ngx_str_t *s)
{
    size_t  i;
    u_char  c;

    if (s->len == 0 || s->len > 64) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    /* "." and anything with ".." could walk out of rag_index_dir */
    for (i = 0; i + 1 < s->len; i++) {
        if (s->data[i] == '.' && s->data[i + 1] == '.') {
            return 0;
        }
    }

    if (s->len == 1 && s->data[0] == '.') {
        return 0;
    }

    return 1;
}


/*
 * Takes the request's hold on collection's index: a reference to the
 * current mapping and/or the duty to open a new file in the thread. The
 * hold is released by a pool cleanup, on the event loop. Returns NGX_OK,
 * NGX_AGAIN (the first load of the file is under way: wait for it;
 * pin->ent is set), NGX_DECLINED (no such index), NGX_ABORT (index file
 * invalid), NGX_BUSY (too many collections) or NGX_ERROR.
 */
static ngx_int_t
ngx_rag_index_pin_init(ngx_http_request_t *r, ngx_rag_index_pin_t *pin,
    ngx_str_t *collection)
{
    u_char              *p;
    char                 path[NGX_RAG_IX_MAX_PATH];
    ngx_int_t            rc;
    ngx_rag_ixent_t     *ent;
    ngx_pool_cleanup_t  *cln;
    ngx_rag_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_rag_module);

    if (rlcf->index_dir.len + collection->len + 6 > sizeof(path)) {
        return NGX_ERROR;
    }

    p = ngx_snprintf((u_char *) path, sizeof(path) - 1, "%V/%V.idx",
                     &rlcf->index_dir, collection);
    *p = '\0';

    ent = ngx_rag_ix_entry(path);
    if (ent == NULL) {
        return NGX_BUSY;
    }

    rc = ngx_rag_ix_check(ent, r->connection->log);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ent->cur == NULL && ent->loading) {
        pin->ent = ent;
        return NGX_AGAIN;
    }

    pin->path = ngx_rag_pstrndup(r->pool, path,
                                 (size_t) (p - (u_char *) path));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (pin->path == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    /* a reference for the thread, taken before the task is posted */
    pin->ent = ent;
    if (ent->cur) {
        pin->ref = ent->cur;
        pin->ref->refs++;
    }

    if (ent->stale && !ent->loading) {
        /* this request opens the new file; others keep using cur (or,
         * with none yet, wait for this one) */
        pin->load_seq = ++ent->load_seq;
        ent->loading = 1;
        ent->stale = 0;
    }

    cln->handler = ngx_rag_index_cleanup;
    cln->data = pin;

    return NGX_OK;
}


ngx_int_t
ngx_rag_index_pin(ngx_http_request_t *r, ngx_str_t *collection,
    ngx_rag_index_pin_t **out)
{
    ngx_rag_index_pin_t  *pin;

    *out = NULL;

    if (!ngx_rag_index_name_ok(collection)) {
        return NGX_DECLINED;
    }

    pin = ngx_pcalloc(r->pool, sizeof(ngx_rag_index_pin_t));
    if (pin == NULL) {
        return NGX_ERROR;
    }

    *out = pin;

    return ngx_rag_index_pin_init(r, pin, collection);
}


const rag_index *
ngx_rag_index_get(ngx_rag_index_pin_t *pin, int *missing)
{
    if (missing) {
        *missing = 0;
    }

    if (pin == NULL) {
        return NULL;
    }

    if (pin->load_seq && !pin->tried) {
        pin->tried = 1;
        pin->opened = rag_index_open(pin->path, pin->open_err,
                                     sizeof(pin->open_err));
        if (pin->opened == NULL && errno == ENOENT) {
            pin->open_enoent = 1;
        }
    }

    if (pin->opened) {
        return pin->opened;
    }

    if (pin->ref) {
        return pin->ref->ix;
    }

    if (missing) {
        *missing = pin->open_enoent;
    }

    return NULL;
}


rag_index_buf *
ngx_rag_index_loop_scratch(void)
{
    return &ngx_rag_ix_scratch;
}


const rag_index *
ngx_rag_index_ready(ngx_rag_index_pin_t *pin)
{
    if (pin == NULL || pin->load_seq || pin->ref == NULL) {
        return NULL;
    }

    return pin->ref->ix;
}


void
ngx_rag_index_unpin(ngx_rag_index_pin_t *pin)
{
    if (pin != NULL) {
        ngx_rag_index_cleanup(pin);
    }
}


/*
 * Runs once per request, on the event loop, after the task finished (the
 * request is blocked until then) or when it was never posted.
 */
static void
ngx_rag_index_cleanup(void *data)
{
    ngx_rag_index_pin_t   *pin = data;
    ngx_rag_ixent_t       *e = pin->ent;
    ngx_rag_ixref_t       *ref;
    ngx_uint_t             loader;

    if (pin->released || e == NULL) {
        return;
    }
    pin->released = 1;

    ngx_rag_ixref_release(pin->ref);
    pin->ref = NULL;

    if (pin->load_seq == 0) {
        return;
    }

    loader = (pin->load_seq == e->load_seq);
    if (loader) {
        e->loading = 0;
    }

    if (!pin->tried) {
        /* the task never ran: let the next request load the file */
        if (loader) {
            e->stale = 1;
        }
        goto wake;
    }

    if (pin->opened == NULL) {
        if (pin->open_err[0] && !pin->open_enoent) {
            /* keep serving the old index, if any; retry only when the
             * file changes */
            e->broken = 1;
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "rag_search: cannot open index: %s",
                          pin->open_err);
        }
        goto wake;
    }

    if (pin->load_seq <= e->installed_seq) {
        /* an older load finished late */
        rag_index_close(pin->opened);
        pin->opened = NULL;
        goto wake;
    }

    ref = malloc(sizeof(ngx_rag_ixref_t));
    if (ref == NULL) {
        rag_index_close(pin->opened);
        pin->opened = NULL;
        goto wake;
    }

    ref->ix = pin->opened;
    ref->refs = 1;
    pin->opened = NULL;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "rag_search: %s generation %uL loaded (%uD chunks)",
                  e->path, (uint64_t) rag_index_generation(ref->ix),
                  rag_index_count(ref->ix));

    ngx_rag_ixref_release(e->cur);
    e->cur = ref;
    e->installed_seq = pin->load_seq;
    e->broken = 0;

wake:

    if (loader) {
        ngx_rag_ix_wake(e);
    }
}


/* ---- waiting for a first load -------------------------------------------- */

static void
ngx_rag_index_waiter_cleanup(void *data)
{
    ngx_rag_index_waiter_t  *w = data;

    if (w->linked) {
        ngx_queue_remove(&w->queue);
        w->linked = 0;
    }
}


ngx_int_t
ngx_rag_index_wait(ngx_http_request_t *r, ngx_rag_index_pin_t *pin,
    ngx_rag_index_resume_pt resume, void *data)
{
    ngx_pool_cleanup_t      *cln;
    ngx_rag_index_waiter_t  *w;

    if (pin == NULL || pin->ent == NULL) {
        return NGX_ERROR;
    }

    w = ngx_pcalloc(r->pool, sizeof(ngx_rag_index_waiter_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (w == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    w->request = r;
    w->resume = resume;
    w->data = data;
    ngx_queue_insert_tail(&pin->ent->waiters, &w->queue);
    w->linked = 1;

    cln->handler = ngx_rag_index_waiter_cleanup;
    cln->data = w;

    return NGX_OK;
}


/* Event loop: the first load of e ended (well or not); resume the
 * requests that waited for it. Each pins again: it may have to wait
 * once more (a newer file), which queues it on e->waiters anew. */
static void
ngx_rag_ix_wake(ngx_rag_ixent_t *e)
{
    ngx_queue_t              q, *x;
    ngx_connection_t        *c;
    ngx_rag_index_waiter_t  *w;

    if (ngx_queue_empty(&e->waiters)) {
        return;
    }

    ngx_queue_init(&q);
    ngx_queue_add(&q, &e->waiters);
    ngx_queue_init(&e->waiters);

    while (!ngx_queue_empty(&q)) {
        x = ngx_queue_head(&q);
        ngx_queue_remove(x);
        w = ngx_queue_data(x, ngx_rag_index_waiter_t, queue);
        w->linked = 0;

        c = w->request->connection;
        w->resume(w->request, w->data);
        ngx_http_run_posted_requests(c);
    }
}
