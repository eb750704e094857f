/*
 * eval — question/URL pairs, URL matching and recall/MRR (see eval.h).
 */
#include "eval.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_tree.h>

/* YAJL_GET_STRING may yield NULL for a non-string; never here. */
static const char *
jstr(yajl_val v)
{
    const char *s = YAJL_GET_STRING(v);
    return s ? s : "";
}

static int
has_scheme(const char *u)
{
    return strstr(u, "://") != NULL;
}

static int
default_port(const char *scheme, size_t slen, const char *port, size_t plen)
{
    return (slen == 4 && strncasecmp(scheme, "http", 4) == 0 && plen == 2 &&
            memcmp(port, "80", 2) == 0) ||
           (slen == 5 && strncasecmp(scheme, "https", 5) == 0 && plen == 3 &&
            memcmp(port, "443", 3) == 0);
}

ssize_t
eval_url_norm(const char *u, size_t len, int keep_fragment, char *out,
              size_t outlen)
{
    const char *end = u + len, *hash, *q, *host, *path, *colon;
    size_t n = 0, plen, i;

#define PUT(p_, n_)                                                            \
    do {                                                                       \
        if (n + (n_) >= outlen)                                                \
            return -1;                                                         \
        memcpy(out + n, (p_), (n_));                                           \
        n += (n_);                                                             \
    } while (0)

    hash = memchr(u, '#', len);
    if (hash != NULL && !keep_fragment)
        end = hash;
    if (hash == NULL || hash > end)
        hash = end;
    q = memchr(u, '?', (size_t)(hash - u));
    if (q == NULL)
        q = hash;
    host = NULL;
    for (i = 0; i + 2 < (size_t)(q - u); i++) {
        if (u[i] == ':' && u[i + 1] == '/' && u[i + 2] == '/') {
            host = u + i + 3;
            break;
        }
        if (u[i] == '/')
            break;
    }
    path = u;
    if (host != NULL) {
        /* scheme and host are case-insensitive; a default port is none */
        for (path = host; path < q && *path != '/'; path++)
            ;
        colon = memchr(host, ':', (size_t)(path - host));
        for (i = 0; i < (size_t)(host - u); i++) {
            char c = (char)tolower((unsigned char)u[i]);
            PUT(&c, 1);
        }
        for (i = 0; i < (size_t)((colon ? colon : path) - host); i++) {
            char c = (char)tolower((unsigned char)host[i]);
            PUT(&c, 1);
        }
        if (colon != NULL && !default_port(u, (size_t)(host - 3 - u), colon + 1,
                                           (size_t)(path - colon - 1)))
            PUT(colon, (size_t)(path - colon));
    }
    /* ".../index.html" is ".../"; a trailing '/' is dropped */
    plen = (size_t)(q - path);
    if (plen >= 10 && memcmp(path + plen - 10, "index.html", 10) == 0 &&
        (plen == 10 || path[plen - 11] == '/'))
        plen -= 10;
    else if (plen >= 9 && memcmp(path + plen - 9, "index.htm", 9) == 0 &&
             (plen == 9 || path[plen - 10] == '/'))
        plen -= 9;
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    PUT(path, plen);
    PUT(q, (size_t)(end - q));
    out[n] = '\0';
    return (ssize_t)n;
#undef PUT
}

int
eval_url_match(const char *hit, size_t len, const char *expected,
               const char *base)
{
    char want[EVAL_MAX_URL], got[EVAL_MAX_URL], joined[EVAL_MAX_URL];
    ssize_t wn, gn;
    int frag;

    if (hit == NULL || expected == NULL || *expected == '\0')
        return 0;
    if (base != NULL && *base != '\0' && !has_scheme(expected)) {
        size_t blen = strlen(base);
        while (blen > 0 && base[blen - 1] == '/')
            blen--;
        for (;;) {
            if (*expected == '/')
                expected++;
            else if (expected[0] == '.' && expected[1] == '/')
                expected += 2;
            else
                break;
        }
        if ((size_t)snprintf(joined, sizeof(joined), "%.*s/%s", (int)blen, base,
                             expected) >= sizeof(joined))
            return 0;
        expected = joined;
    }
    frag = strchr(expected, '#') != NULL;
    wn = eval_url_norm(expected, strlen(expected), frag, want, sizeof(want));
    gn = eval_url_norm(hit, len, frag, got, sizeof(got));
    return wn >= 0 && gn == wn && memcmp(want, got, (size_t)wn) == 0;
}

void
eval_item_free(eval_item *it)
{
    size_t i;

    free(it->q);
    free(it->collection);
    for (i = 0; i < it->nurls; i++)
        free(it->urls[i]);
    memset(it, 0, sizeof(*it));
}

static int
add_url(eval_item *it, const char *u, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (it->nurls >= EVAL_MAX_URLS) {
        snprintf(err, errlen, "more than %d urls", EVAL_MAX_URLS);
        return -1;
    }
    it->urls[it->nurls] = strndup(u, n);
    if (it->urls[it->nurls] == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    it->nurls++;
    return 0;
}

static int
parse_json(const char *line, size_t len, eval_item *it, char *err,
           size_t errlen)
{
    static const char *qk[] = {"q", NULL}, *qk2[] = {"question", NULL};
    static const char *uk[] = {"urls", NULL}, *uk2[] = {"url", NULL};
    static const char *ck[] = {"collection", NULL};
    char ebuf[256], *copy;
    yajl_val root, q, u, c;
    size_t i;
    int rc = -1;

    copy = strndup(line, len);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    root = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
    free(copy);
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "not a JSON object");
        goto done;
    }
    q = yajl_tree_get(root, qk, yajl_t_string);
    if (q == NULL)
        q = yajl_tree_get(root, qk2, yajl_t_string);
    if (q == NULL || *jstr(q) == '\0') {
        snprintf(err, errlen, "missing \"q\"");
        goto done;
    }
    it->q = strdup(jstr(q));
    if (it->q == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    c = yajl_tree_get(root, ck, yajl_t_any);
    if (c != NULL) {
        if (!YAJL_IS_STRING(c) || *jstr(c) == '\0') {
            snprintf(err, errlen, "\"collection\" must be a name");
            goto done;
        }
        it->collection = strdup(jstr(c));
        if (it->collection == NULL) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
    }
    u = yajl_tree_get(root, uk, yajl_t_array);
    if (u != NULL) {
        for (i = 0; i < u->u.array.len; i++) {
            yajl_val e = u->u.array.values[i];
            if (!YAJL_IS_STRING(e)) {
                snprintf(err, errlen, "\"urls\" must hold strings");
                goto done;
            }
            if (add_url(it, jstr(e), strlen(jstr(e)), err, errlen) != 0)
                goto done;
        }
    } else if ((u = yajl_tree_get(root, uk2, yajl_t_string)) != NULL) {
        if (add_url(it, jstr(u), strlen(jstr(u)), err, errlen) != 0)
            goto done;
    }
    if (it->nurls == 0) {
        snprintf(err, errlen, "no expected urls");
        goto done;
    }
    rc = 1;
done:
    yajl_tree_free(root);
    if (rc != 1)
        eval_item_free(it);
    return rc;
}

static int
parse_tsv(const char *line, size_t len, eval_item *it, char *err, size_t errlen)
{
    const char *p = line, *end = line + len, *tab;

    tab = memchr(p, '\t', len);
    if (tab == NULL || tab == p) {
        snprintf(err, errlen, "expected question<TAB>url");
        return -1;
    }
    it->q = strndup(p, (size_t)(tab - p));
    if (it->q == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (p = tab + 1; p < end; p = tab + 1) {
        tab = memchr(p, '\t', (size_t)(end - p));
        if (tab == NULL)
            tab = end;
        if (add_url(it, p, (size_t)(tab - p), err, errlen) != 0)
            goto fail;
        if (tab == end)
            break;
    }
    if (it->nurls == 0) {
        snprintf(err, errlen, "no expected urls");
        goto fail;
    }
    return 1;
fail:
    eval_item_free(it);
    return -1;
}

int
eval_parse_line(const char *line, size_t len, eval_item *it, char *err,
                size_t errlen)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                       line[len - 1] == ' '))
        len--;
    while (len > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    if (len == 0 || *line == '#')
        return 0;
    memset(it, 0, sizeof(*it));
    if (*line == '{')
        return parse_json(line, len, it, err, errlen);
    return parse_tsv(line, len, it, err, errlen);
}

void
eval_set_free(eval_set *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        eval_item_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

int
eval_set_load(const char *path, eval_set *s, char *err, size_t errlen)
{
    char *line = NULL, perr[256];
    size_t cap = 0, lineno = 0;
    ssize_t n;
    eval_item it;
    FILE *f;
    int rc = -1, r;

    memset(s, 0, sizeof(*s));
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n > EVAL_MAX_LINE) {
            snprintf(err, errlen, "%s:%zu: line too long", path, lineno);
            goto done;
        }
        r = eval_parse_line(line, (size_t)n, &it, perr, sizeof(perr));
        if (r < 0) {
            snprintf(err, errlen, "%s:%zu: %s", path, lineno, perr);
            goto done;
        }
        if (r == 0)
            continue;
        if (s->n >= EVAL_MAX_ITEMS) {
            eval_item_free(&it);
            snprintf(err, errlen, "%s: more than %d questions", path,
                     EVAL_MAX_ITEMS);
            goto done;
        }
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 64;
            eval_item *nv = realloc(s->v, nc * sizeof(*nv));
            if (nv == NULL) {
                eval_item_free(&it);
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            s->v = nv;
            s->cap = nc;
        }
        s->v[s->n++] = it;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto done;
    }
    if (s->n == 0) {
        snprintf(err, errlen, "%s: no questions", path);
        goto done;
    }
    rc = 0;
done:
    free(line);
    fclose(f);
    if (rc != 0)
        eval_set_free(s);
    return rc;
}

void
eval_score_add(eval_score *s, int first_rank)
{
    s->n++;
    if (first_rank <= 0)
        return;
    if (first_rank <= 1)
        s->at1++;
    if (first_rank <= 5)
        s->at5++;
    if (first_rank <= 10)
        s->at10++;
    s->rr_sum += 1.0 / first_rank;
}

int
eval_first_rank(const eval_item *it, const char *const *urls,
                const size_t *lens, size_t n, const char *base)
{
    size_t i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < it->nurls; j++)
            if (eval_url_match(urls[i], lens[i], it->urls[j], base))
                return (int)i + 1;
    return 0;
}
