/*
 * rag_search_page — open addressing over (hash, key) slots, linear
 * probing; a slot with h == 0 is free. Page ids are stored as h = id + 1
 * (the id is the key); strings as their FNV-1a hash with the low bit set,
 * the bytes in keys. Either way the slot index is the Fibonacci hash of
 * h, so ids that are consecutive numbers spread over the table.
 */
#include "rag_search_page.h"

#include <stdlib.h>
#include <string.h>

struct rag_page_slot {
    uint64_t h;
    size_t off;   /* string keys: offset into keys */
    uint32_t len; /* string keys: length */
    uint32_t num;
};

size_t
rag_page_len(const char *url, size_t len)
{
    const char *hash = len ? memchr(url, '#', len) : NULL;
    return hash ? (size_t)(hash - url) : len;
}

static size_t
slot_of(const rag_page_map *m, uint64_t h)
{
    return (size_t)((h * 0x9E3779B97F4A7C15ull) >> m->shift);
}

static int
alloc_slots(rag_page_map *m, size_t cap)
{
    unsigned bits = 0;

    while (((size_t)1 << bits) < cap)
        bits++;
    m->slot = calloc((size_t)1 << bits, sizeof(*m->slot));
    if (m->slot == NULL)
        return -1;
    m->cap = (size_t)1 << bits;
    m->shift = 64 - bits;
    return 0;
}

int
rag_page_map_init(rag_page_map *m, size_t expect)
{
    size_t cap = 16;

    memset(m, 0, sizeof(*m));
    while (cap < 2 * expect + 2)
        cap *= 2;
    return alloc_slots(m, cap);
}

/* Doubles the table when one more key would fill it past half. */
static int
reserve(rag_page_map *m)
{
    rag_page_map old = *m;

    if ((m->n + 1) * 2 <= m->cap)
        return 0;
    if (alloc_slots(m, old.cap * 2) != 0) {
        *m = old;
        return -1;
    }
    for (size_t i = 0; i < old.cap; i++) {
        size_t j;
        if (old.slot[i].h == 0)
            continue;
        j = slot_of(m, old.slot[i].h);
        while (m->slot[j].h != 0)
            j = (j + 1) & (m->cap - 1);
        m->slot[j] = old.slot[i];
    }
    free(old.slot);
    return 0;
}

long
rag_page_map_id(rag_page_map *m, uint32_t id)
{
    uint64_t h = (uint64_t)id + 1;
    size_t j;

    if (reserve(m) != 0)
        return -1;
    j = slot_of(m, h);
    while (m->slot[j].h != 0 && m->slot[j].h != h)
        j = (j + 1) & (m->cap - 1);
    if (m->slot[j].h == 0) {
        m->slot[j].h = h;
        m->slot[j].num = (uint32_t)m->n++;
    }
    return (long)m->slot[j].num;
}

long
rag_page_map_str(rag_page_map *m, const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    size_t j;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    h |= 1;
    if (len > UINT32_MAX || reserve(m) != 0)
        return -1;
    j = slot_of(m, h);
    while (m->slot[j].h != 0 && (m->slot[j].h != h || m->slot[j].len != len ||
                                 memcmp(m->keys + m->slot[j].off, p, len) != 0))
        j = (j + 1) & (m->cap - 1);
    if (m->slot[j].h != 0)
        return (long)m->slot[j].num;
    if (m->keylen + len > m->keycap) {
        size_t cap = m->keycap ? m->keycap : 256;
        char *k;
        while (cap < m->keylen + len)
            cap *= 2;
        if ((k = realloc(m->keys, cap)) == NULL)
            return -1;
        m->keys = k;
        m->keycap = cap;
    }
    if (len)
        memcpy(m->keys + m->keylen, p, len);
    m->slot[j].h = h;
    m->slot[j].off = m->keylen;
    m->slot[j].len = (uint32_t)len;
    m->slot[j].num = (uint32_t)m->n++;
    m->keylen += len;
    return (long)m->slot[j].num;
}

long
rag_page_map_rec(rag_page_map *m, const rag_index *ix, uint32_t rec)
{
    const uint32_t *ids = rag_index_page_ids(ix);
    rag_index_chunk c;

    if (ids != NULL && rec < rag_index_count(ix))
        return rag_page_map_id(m, ids[rec]);
    if (rag_index_chunk_get(ix, rec, &c) != 0)
        return rag_page_map_str(m, "", 0);
    return rag_page_map_str(m, c.url.p, rag_page_len(c.url.p, c.url.len));
}

void
rag_page_map_free(rag_page_map *m)
{
    free(m->slot);
    free(m->keys);
    memset(m, 0, sizeof(*m));
}
