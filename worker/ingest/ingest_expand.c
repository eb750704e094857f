#include "ingest_expand.h"

#include <stdlib.h>
#include <string.h>

int
expand_harvest_add(expand_harvest *h, const char *page_url, const char *anchor,
                   const char *term)
{
    rag_store_expansion *e;
    char *u, *a, *t;

    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 1024;
        rag_store_expansion *v = realloc(h->v, nc * sizeof(*v));
        if (v == NULL)
            return -1;
        h->v = v;
        h->cap = nc;
    }
    u = strdup(page_url);
    a = strdup(anchor);
    t = strdup(term);
    if (u == NULL || a == NULL || t == NULL) {
        free(u);
        free(a);
        free(t);
        return -1;
    }
    e = &h->v[h->n++];
    e->page_url = u;
    e->anchor = a;
    e->term = t;
    return 0;
}

int
expand_harvest_store(PGconn *db, const char *coll_id, const expand_harvest *h,
                     int replace)
{
    return rag_store_expansions_store(db, strtoll(coll_id, NULL, 10), h->v,
                                      h->n, replace);
}

void
expand_harvest_free(expand_harvest *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free((char *)h->v[i].page_url);
        free((char *)h->v[i].anchor);
        free((char *)h->v[i].term);
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}
