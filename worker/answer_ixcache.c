#include "answer_ixcache.h"

#include "rag_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RAG_IXCACHE_MAX 64

struct rag_ixentry {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    rag_index *ix;
    int refs; /* users + 1 while current in the table */
    int current;
};

struct rag_ixcache {
    pthread_mutex_t mu;
    rag_ixentry *tab[RAG_IXCACHE_MAX];
};

rag_ixcache *
rag_ixcache_new(void)
{
    rag_ixcache *c = calloc(1, sizeof(*c));

    if (c)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void
entry_unref(rag_ixentry *e)
{
    if (--e->refs > 0)
        return;
    rag_index_close(e->ix);
    free(e->path);
    free(e);
}

void
rag_ixcache_free(rag_ixcache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < RAG_IXCACHE_MAX; i++)
        if (c->tab[i]) {
            c->tab[i]->current = 0;
            entry_unref(c->tab[i]);
        }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int
same_file(const rag_ixentry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino &&
           e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
           e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

rag_ixentry *
rag_ixcache_get(rag_ixcache *c, const char *path, char *err, size_t errlen)
{
    struct stat st;
    rag_ixentry *e = NULL, *ne;
    int slot = -1, freeslot = -1;

    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s%s: %s", errno == ENOENT ? "missing: " : "",
                 path, strerror(errno));
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < RAG_IXCACHE_MAX; i++) {
        if (c->tab[i] == NULL) {
            if (freeslot < 0)
                freeslot = i;
            continue;
        }
        if (strcmp(c->tab[i]->path, path) == 0) {
            slot = i;
            e = c->tab[i];
            break;
        }
    }
    if (e && same_file(e, &st)) {
        e->refs++;
        pthread_mutex_unlock(&c->mu);
        return e;
    }
    /* Open (or reopen) under the lock: rare, and it keeps one mapping
     * per file generation. */
    ne = calloc(1, sizeof(*ne));
    if (ne == NULL || (ne->path = strdup(path)) == NULL) {
        free(ne);
        snprintf(err, errlen, "out of memory");
        pthread_mutex_unlock(&c->mu);
        return NULL;
    }
    ne->ix = rag_index_open(path, err, errlen);
    if (ne->ix == NULL) {
        free(ne->path);
        free(ne);
        pthread_mutex_unlock(&c->mu);
        return NULL;
    }
    ne->dev = st.st_dev;
    ne->ino = st.st_ino;
    ne->size = st.st_size;
    ne->mtime = st.st_mtim;
    ne->current = 1;
    ne->refs = 2; /* the table's and the caller's */
    if (slot >= 0) {
        rag_info("msg=\"index reopened\" path=\"%s\" generation=%llu", path,
                 (unsigned long long)rag_index_generation(ne->ix));
        c->tab[slot]->current = 0;
        entry_unref(c->tab[slot]);
        c->tab[slot] = ne;
    } else if (freeslot >= 0) {
        c->tab[freeslot] = ne;
    } else {
        ne->refs = 1; /* table full: not cached */
        ne->current = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return ne;
}

const rag_index *
rag_ixentry_index(const rag_ixentry *e)
{
    return e->ix;
}

void
rag_ixcache_put(rag_ixcache *c, rag_ixentry *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    entry_unref(e);
    pthread_mutex_unlock(&c->mu);
}
