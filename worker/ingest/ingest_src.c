#include "ingest_src.h"

#include "rag_buf.h"
#include "rag_charset.h"
#include "ingest_mdx.h"
#include "rag_chunk.h"
#include "rag_url.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_tree.h>

#define MAX_FILE (16u * 1024 * 1024)
#define MAX_JSON (512u * 1024 * 1024)
#define MAX_FILES 100000

void
ingest_items_free(ingest_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].url);
        free(items[i].title);
        free(items[i].body);
    }
    free(items);
}

static int
push_item(ingest_item **items, size_t *n, size_t *cap, const char *url,
          const char *title, const char *body)
{
    ingest_item *it;

    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        ingest_item *v = realloc(*items, nc * sizeof(*v));
        if (v == NULL)
            return -1;
        *items = v;
        *cap = nc;
    }
    it = &(*items)[*n];
    it->url = strdup(url);
    it->title = strdup(title ? title : "");
    it->body = strdup(body);
    if (!it->url || !it->title || !it->body) {
        free(it->url);
        free(it->title);
        free(it->body);
        return -1;
    }
    (*n)++;
    return 0;
}

static char *
read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    rag_buf b;
    char tmp[65536];
    size_t n;

    if (f == NULL)
        return NULL;
    rag_buf_init(&b, max);
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        if (rag_buf_append(&b, tmp, n) != 0) {
            fclose(f);
            rag_buf_free(&b);
            return NULL;
        }
    fclose(f);
    *len = b.len;
    return rag_buf_detach(&b);
}

static void
fm_value(const char *v, size_t n, char *out, size_t outlen)
{
    while (n && isspace((unsigned char)*v))
        v++, n--;
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
        v++, n -= 2;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

char *
ingest_front_matter(char *md, char *title, size_t tlen, char *slug, size_t slen)
{
    char *p, *end;

    title[0] = slug[0] = '\0';
    if (strncmp(md, "---\n", 4) != 0 && strncmp(md, "---\r\n", 5) != 0)
        return md;
    p = strchr(md, '\n') + 1;
    end = strstr(p, "\n---");
    if (end == NULL)
        return md;
    for (char *l = p; l < end;) {
        char *nl = memchr(l, '\n', (size_t)(end - l));
        char *le = nl ? nl : end;
        char *colon = memchr(l, ':', (size_t)(le - l));
        if (colon) {
            size_t kl = (size_t)(colon - l);
            if (kl == 5 && strncmp(l, "title", 5) == 0)
                fm_value(colon + 1, (size_t)(le - colon - 1), title, tlen);
            else if (kl == 4 && strncmp(l, "slug", 4) == 0)
                fm_value(colon + 1, (size_t)(le - colon - 1), slug, slen);
        }
        l = nl ? nl + 1 : end;
    }
    p = end + 4;
    while (*p == '-')
        p++;
    if (*p == '\r')
        p++;
    if (*p == '\n')
        p++;
    return p;
}

typedef struct {
    char **v;
    size_t n, cap;
} pathvec;

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
has_ext(const char *name)
{
    const char *dot = strrchr(name, '.');

    return dot && (strcmp(dot, ".md") == 0 || strcmp(dot, ".mdx") == 0 ||
                   strcmp(dot, ".markdown") == 0);
}

static int
walk(const char *root, const char *rel, pathvec *pv, int depth)
{
    char path[4096];
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (depth > 32)
        return 0;
    snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
    if ((d = opendir(path)) == NULL)
        return depth == 0 ? -1 : 0;
    while ((e = readdir(d)) != NULL && rc == 0) {
        char r2[4096], full[8192];
        struct stat sb;
        if (e->d_name[0] == '.' || strcmp(e->d_name, "node_modules") == 0)
            continue;
        snprintf(r2, sizeof(r2), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof(full), "%s/%s", root, r2);
        if (lstat(full, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            rc = walk(root, r2, pv, depth + 1);
        } else if (S_ISREG(sb.st_mode) && has_ext(e->d_name) &&
                   pv->n < MAX_FILES) {
            if (pv->n == pv->cap) {
                size_t nc = pv->cap ? pv->cap * 2 : 64;
                char **v = realloc(pv->v, nc * sizeof(*v));
                if (!v) {
                    rc = -1;
                    break;
                }
                pv->v = v;
                pv->cap = nc;
            }
            if ((pv->v[pv->n] = strdup(r2)) == NULL)
                rc = -1;
            else
                pv->n++;
        }
    }
    closedir(d);
    return rc;
}

typedef struct {
    const char *tpl;
} link_ctx;

static int expand(const char *tpl, const char *path, char *out, size_t outlen);

/* The page URL of a source file by its path (a link to "./setup.md"):
 * extension dropped, index and README pages are their folder. */
static int
file_url_cb(void *ud, const char *rel_file, char *url, size_t urllen)
{
    const link_ctx *lc = ud;
    char rel[4096], tmp[RAG_URL_MAX], *dot;
    size_t rl;
    const char *r = rel_file;

    while (strncmp(r, "./", 2) == 0)
        r += 2;
    snprintf(rel, sizeof(rel), "%s", r);
    if ((dot = strrchr(rel, '.')) != NULL && !strchr(dot, '/'))
        *dot = '\0';
    rl = strlen(rel);
    if (rl >= 5 && strcmp(rel + rl - 5, "index") == 0 &&
        (rl == 5 || rel[rl - 6] == '/'))
        rel[rl - 5] = '\0';
    else if (rl >= 6 && strcmp(rel + rl - 6, "README") == 0 &&
             (rl == 6 || rel[rl - 7] == '/'))
        rel[rl - 6] = '\0';
    return expand(lc->tpl, rel, tmp, sizeof(tmp)) != 0 ||
                   rag_url_normalize(tmp, url, urllen) != 0
               ? -1
               : 0;
}

/* "{path}" in the template replaced by path. */
static int
expand(const char *tpl, const char *path, char *out, size_t outlen)
{
    const char *ph = strstr(tpl, "{path}");
    int n;

    if (ph == NULL)
        return -1;
    n = snprintf(out, outlen, "%.*s%s%s", (int)(ph - tpl), tpl, path, ph + 6);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
ingest_read_dir(const char *dir, const char *url_template, ingest_item **items,
                size_t *n, char *err, size_t errlen)
{
    pathvec pv = {0};
    size_t cap = 0;
    int rc = -1;

    *items = NULL;
    *n = 0;
    if (!url_template || !strstr(url_template, "{path}")) {
        snprintf(err, errlen, "--url-template must contain {path}");
        return -1;
    }
    if (walk(dir, "", &pv, 0) != 0) {
        snprintf(err, errlen, "cannot read directory %s", dir);
        goto done;
    }
    qsort(pv.v, pv.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < pv.n; i++) {
        char full[8192], title[512], slug[512], rel[4096], url[RAG_URL_MAX];
        char norm[RAG_URL_MAX], *md, *body;
        size_t len;

        snprintf(full, sizeof(full), "%s/%s", dir, pv.v[i]);
        if ((md = read_file(full, MAX_FILE, &len)) == NULL)
            continue; /* unreadable or too large */
        if (!rag_utf8_valid(md, len)) {
            /* not UTF-8 (Latin-1 Markdown, stray bytes): Postgres would
             * refuse it, so bad bytes become U+FFFD */
            rag_buf fixed;
            rag_buf_init(&fixed, MAX_FILE * 3 + 16);
            if (rag_utf8_repair(md, len, &fixed) < 0) {
                rag_buf_free(&fixed);
                free(md);
                continue;
            }
            free(md);
            len = fixed.len;
            md = rag_buf_detach(&fixed);
        }
        body =
            ingest_front_matter(md, title, sizeof(title), slug, sizeof(slug));
        snprintf(rel, sizeof(rel), "%s", pv.v[i]);
        *strrchr(rel, '.') = '\0';
        if (slug[0] == '/') {
            snprintf(rel, sizeof(rel), "%s", slug + 1);
        } else if (slug[0]) {
            char *sl = strrchr(rel, '/');
            char tmp[4096];
            snprintf(tmp, sizeof(tmp), "%.*s%s%s", sl ? (int)(sl - rel) : 0,
                     rel, sl ? "/" : "", slug);
            snprintf(rel, sizeof(rel), "%s", tmp);
        } else {
            size_t rl = strlen(rel);
            if (rl >= 5 && strcmp(rel + rl - 5, "index") == 0 &&
                (rl == 5 || rel[rl - 6] == '/'))
                rel[rl - 5] = '\0';
            else if (rl >= 6 && strcmp(rel + rl - 6, "README") == 0 &&
                     (rl == 6 || rel[rl - 7] == '/'))
                rel[rl - 6] = '\0';
        }
        if (!title[0]) {
            /* the first "# " heading, else the file name */
            char id[64];
            const char *l = body;
            while (l && *l) {
                const char *nl = strchr(l, '\n');
                size_t ln = nl ? (size_t)(nl - l) : strlen(l);
                if (ln > 2 && l[0] == '#' && l[1] == ' ' &&
                    rag_md_heading(l, ln, title, sizeof(title), id,
                                   sizeof(id)) == 1)
                    break;
                l = nl ? nl + 1 : NULL;
            }
            if (!title[0]) {
                const char *b = strrchr(pv.v[i], '/');
                snprintf(title, sizeof(title), "%s", b ? b + 1 : pv.v[i]);
                *strrchr(title, '.') = '\0';
            }
        }
        if (expand(url_template, rel, url, sizeof(url)) != 0 ||
            rag_url_normalize(url, norm, sizeof(norm)) != 0) {
            snprintf(err, errlen, "bad URL from template for %s", pv.v[i]);
            free(md);
            goto done;
        }
        {
            /* what the built site shows, not the MDX source */
            rag_buf conv;
            link_ctx lc = {url_template};
            rag_buf_init(&conv, MAX_FILE * 2);
            if (ingest_mdx_convert(body, strlen(body), pv.v[i], norm,
                                   file_url_cb, &lc, &conv) != 0 ||
                push_item(items, n, &cap, norm, title,
                          conv.data ? conv.data : "") != 0) {
                rag_buf_free(&conv);
                free(md);
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            rag_buf_free(&conv);
        }
        free(md);
    }
    rc = 0;
done:
    for (size_t i = 0; i < pv.n; i++)
        free(pv.v[i]);
    free(pv.v);
    if (rc != 0) {
        ingest_items_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return rc;
}

static int
json_item(yajl_val v, ingest_item **items, size_t *n, size_t *cap, char *err,
          size_t errlen)
{
    const char *pu[] = {"url", NULL}, *pt[] = {"title", NULL},
               *pb[] = {"body", NULL};
    yajl_val u = yajl_tree_get(v, pu, yajl_t_string);
    yajl_val t = yajl_tree_get(v, pt, yajl_t_string);
    yajl_val b = yajl_tree_get(v, pb, yajl_t_string);
    char norm[RAG_URL_MAX];

    if (!u || !b ||
        rag_url_normalize(YAJL_GET_STRING(u), norm, sizeof(norm)) != 0) {
        snprintf(err, errlen, "item %zu: needs an http(s) url and a body",
                 *n + 1);
        return -1;
    }
    if (push_item(items, n, cap, norm, t ? YAJL_GET_STRING(t) : "",
                  YAJL_GET_STRING(b)) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
ingest_read_json(const char *file, ingest_item **items, size_t *n, char *err,
                 size_t errlen)
{
    char ebuf[256], *text, *p;
    size_t len, cap = 0;
    yajl_val root;
    int rc = -1;

    *items = NULL;
    *n = 0;
    if ((text = read_file(file, MAX_JSON, &len)) == NULL) {
        snprintf(err, errlen, "cannot read %s (missing or too large)", file);
        return -1;
    }
    for (p = text; isspace((unsigned char)*p); p++)
        ;
    if (*p == '[') {
        if ((root = yajl_tree_parse(p, ebuf, sizeof(ebuf))) == NULL ||
            !YAJL_IS_ARRAY(root)) {
            snprintf(err, errlen, "%s: bad JSON: %.100s", file, ebuf);
            yajl_tree_free(root);
            goto done;
        }
        for (size_t i = 0; i < YAJL_GET_ARRAY(root)->len; i++)
            if (json_item(YAJL_GET_ARRAY(root)->values[i], items, n, &cap, err,
                          errlen) != 0) {
                yajl_tree_free(root);
                goto done;
            }
        yajl_tree_free(root);
    } else {
        while (*p) {
            char *nl = strchr(p, '\n');
            if (nl)
                *nl = '\0';
            char *q = p;
            while (isspace((unsigned char)*q))
                q++;
            if (*q) {
                root = yajl_tree_parse(q, ebuf, sizeof(ebuf));
                if (root == NULL) {
                    snprintf(err, errlen, "%s line %zu: bad JSON", file,
                             *n + 1);
                    goto done;
                }
                if (json_item(root, items, n, &cap, err, errlen) != 0) {
                    yajl_tree_free(root);
                    goto done;
                }
                yajl_tree_free(root);
            }
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    rc = 0;
done:
    free(text);
    if (rc != 0) {
        ingest_items_free(*items, *n);
        *items = NULL;
        *n = 0;
    }
    return rc;
}
