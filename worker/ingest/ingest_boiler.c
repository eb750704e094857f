#include "ingest_boiler.h"

#include "rag_chunk.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct boiler_counter {
    uint64_t *keys; /* open addressing, 0 = empty */
    uint32_t *df;   /* pages the key was seen on */
    uint32_t *last; /* the last page that counted it (1-based) */
    size_t nslots, used;
    uint32_t pages;
};

/* Fence state for one pass over a document. */
typedef struct {
    char ch;
    size_t len;
} fence_t;

/* Strips indentation and blockquote markers. */
static size_t
skip_prefix(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '>'))
        i++;
    return i;
}

/* Updates the fence state with line s; 1 when the line is a fence line
 * or inside a fence. */
static int
in_code(fence_t *f, const char *s, size_t n)
{
    size_t i = skip_prefix(s, n), k;

    if (i < n && (s[i] == '`' || s[i] == '~')) {
        for (k = i; k < n && s[k] == s[i]; k++)
            ;
        if (k - i >= 3) {
            if (f->len == 0) {
                f->ch = s[i];
                f->len = k - i;
                return 1;
            }
            if (s[i] == f->ch && k - i >= f->len) {
                size_t j = k;
                while (j < n && isspace((unsigned char)s[j]))
                    j++;
                if (j == n) {
                    f->len = 0;
                    return 1;
                }
            }
        }
    }
    return f->len != 0;
}

/* Key of a prose line (see the header), 0 if the line is not prose. */
static uint64_t
line_key(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i = skip_prefix(s, n), e = n;
    int alnum = 0;
    char id[8], text[8];

    while (e > i && isspace((unsigned char)s[e - 1]))
        e--;
    /* headings carry structure, table rows are data */
    if (e == i || s[i] == '|' ||
        rag_md_heading(s + i, e - i, text, sizeof(text), id, sizeof(id)) > 0)
        return 0;
    for (; i < e; i++) {
        if (s[i] == ']' && i + 1 < e && s[i + 1] == '(') {
            const char *close = memchr(s + i, ')', e - i);
            h = (h ^ (unsigned char)']') * 1099511628211ULL;
            if (close) {
                i = (size_t)(close - s);
                continue;
            }
        }
        if (isalnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            alnum = 1;
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    }
    return alnum ? (h ? h : 1) : 0;
}

boiler_counter *
boiler_counter_new(void)
{
    boiler_counter *bc = calloc(1, sizeof(*bc));

    if (bc == NULL)
        return NULL;
    bc->nslots = 1 << 14;
    bc->keys = calloc(bc->nslots, sizeof(*bc->keys));
    bc->df = calloc(bc->nslots, sizeof(*bc->df));
    bc->last = calloc(bc->nslots, sizeof(*bc->last));
    if (!bc->keys || !bc->df || !bc->last) {
        boiler_counter_free(bc);
        return NULL;
    }
    return bc;
}

void
boiler_counter_free(boiler_counter *bc)
{
    if (bc == NULL)
        return;
    free(bc->keys);
    free(bc->df);
    free(bc->last);
    free(bc);
}

static int
grow(boiler_counter *bc)
{
    size_t ns = bc->nslots * 2;
    uint64_t *k = calloc(ns, sizeof(*k));
    uint32_t *d = calloc(ns, sizeof(*d)), *l = calloc(ns, sizeof(*l));

    if (!k || !d || !l) {
        free(k);
        free(d);
        free(l);
        return -1;
    }
    for (size_t i = 0; i < bc->nslots; i++) {
        size_t j;
        if (!bc->keys[i])
            continue;
        for (j = bc->keys[i] % ns; k[j]; j = (j + 1) % ns)
            ;
        k[j] = bc->keys[i];
        d[j] = bc->df[i];
        l[j] = bc->last[i];
    }
    free(bc->keys);
    free(bc->df);
    free(bc->last);
    bc->keys = k;
    bc->df = d;
    bc->last = l;
    bc->nslots = ns;
    return 0;
}

int
boiler_counter_add(boiler_counter *bc, const char *md, size_t len)
{
    fence_t f = {0, 0};
    const char *p = md, *end = md + len;

    bc->pages++;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p), i;
        uint64_t key;

        if (!in_code(&f, p, n) && (key = line_key(p, n)) != 0) {
            if (bc->used * 2 >= bc->nslots && grow(bc) != 0)
                return -1;
            for (i = key % bc->nslots; bc->keys[i] && bc->keys[i] != key;
                 i = (i + 1) % bc->nslots)
                ;
            if (!bc->keys[i]) {
                bc->keys[i] = key;
                bc->used++;
            }
            if (bc->last[i] != bc->pages) {
                bc->last[i] = bc->pages;
                bc->df[i]++;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int
boiler_counter_finish(boiler_counter *bc, boiler_set *out)
{
    size_t n = 0;

    out->keys = NULL;
    out->n = 0;
    if (bc->pages >= BOILER_MIN_PAGES) {
        for (size_t i = 0; i < bc->nslots; i++)
            if (bc->keys[i] && (size_t)bc->df[i] * 2 > bc->pages)
                n++;
        if (n && (out->keys = malloc(n * sizeof(*out->keys))) == NULL) {
            boiler_counter_free(bc);
            return -1;
        }
        for (size_t i = 0; i < bc->nslots; i++)
            if (bc->keys[i] && (size_t)bc->df[i] * 2 > bc->pages)
                out->keys[out->n++] = bc->keys[i];
        if (out->n)
            qsort(out->keys, out->n, sizeof(*out->keys), cmp_u64);
    }
    boiler_counter_free(bc);
    return 0;
}

void
boiler_set_signature(const boiler_set *s, char *out, size_t outlen)
{
    uint64_t h = 1469598103934665603ULL;

    if (s->n == 0) {
        snprintf(out, outlen, "%s", "");
        return;
    }
    for (size_t i = 0; i < s->n; i++)
        for (int b = 0; b < 8; b++)
            h = (h ^ ((s->keys[i] >> (8 * b)) & 0xff)) * 1099511628211ULL;
    snprintf(out, outlen, "%zu:%016llx", s->n, (unsigned long long)h);
}

void
boiler_set_free(boiler_set *s)
{
    free(s->keys);
    s->keys = NULL;
    s->n = 0;
}

static int
in_set(const boiler_set *s, uint64_t k)
{
    return k && s->n &&
           bsearch(&k, s->keys, s->n, sizeof(*s->keys), cmp_u64) != NULL;
}

typedef struct {
    const char *p;
    size_t n;  /* with its '\n' */
    int level; /* heading level, 0 */
    int keep;
    int blank;
} sline;

int
boiler_strip(const char *md, size_t len, const boiler_set *s, rag_buf *out)
{
    sline *v = NULL;
    size_t nv = 0, cap = 0;
    fence_t f = {0, 0};
    const char *p = md, *end = md + len;
    int rc = -1;

    if (s->n == 0)
        return rag_buf_append(out, md, len);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p), k = 0;
        char text[8], id[8];
        sline *L;

        if (nv == cap) {
            size_t nc = cap ? cap * 2 : 256;
            sline *t = realloc(v, nc * sizeof(*t));
            if (t == NULL)
                goto done;
            v = t;
            cap = nc;
        }
        L = &v[nv++];
        L->p = p;
        L->n = n;
        L->keep = 1;
        L->level = 0;
        while (k < n && isspace((unsigned char)p[k]))
            k++;
        L->blank = k == n;
        if (!in_code(&f, p, n)) {
            L->level = rag_md_heading(p, n, text, sizeof(text), id, sizeof(id));
            if (!L->level && in_set(s, line_key(p, nl ? n - 1 : n)))
                L->keep = 0;
        }
        p += n;
    }
    /* a heading whose section lost all its lines goes too */
    for (size_t i = 0; i < nv; i++) {
        int any = 0;
        if (!v[i].level)
            continue;
        for (size_t j = i + 1; j < nv && !any; j++) {
            if (v[j].level && v[j].level <= v[i].level)
                break;
            if (v[j].keep && !v[j].blank && !v[j].level)
                any = 1;
        }
        /* only when we emptied it: a heading that was empty stays */
        if (!any) {
            int dropped = 0;
            for (size_t j = i + 1; j < nv; j++) {
                if (v[j].level && v[j].level <= v[i].level)
                    break;
                if (!v[j].keep)
                    dropped = 1;
            }
            if (dropped)
                v[i].keep = 0;
        }
    }
    {
        int blanks = 0;
        for (size_t i = 0; i < nv; i++) {
            if (!v[i].keep)
                continue;
            if (v[i].blank) {
                /* no runs of blank lines where lines were removed */
                if (blanks++ || out->len == 0)
                    continue;
            } else {
                blanks = 0;
            }
            if (rag_buf_append(out, v[i].p, v[i].n) != 0)
                goto done;
        }
    }
    rc = 0;
done:
    free(v);
    return rc;
}
