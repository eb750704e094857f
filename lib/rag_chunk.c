#include "rag_chunk.h"

#include "rag_buf.h"
#include "rag_tokens.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_FENCE ((size_t)-1)

typedef struct {
    size_t off, len; /* bytes of the input, '\n' included */
    size_t tokens;
    size_t fence;    /* index of the opening fence line, or NO_FENCE */
    size_t table;    /* index of the table header line, or NO_FENCE */
    size_t section;  /* index into sections */
    int heading;     /* level 1-6, 0 */
    int fence_close; /* this line closes its fence */
    int blank;
    int splittable; /* a paragraph line (may be cut at spaces) */
} line_t;

typedef struct {
    char *path;
    char *anchor;
    size_t parent; /* enclosing section (0, the page, for top ones) */
} section_t;

typedef struct {
    const char *md;
    size_t len;
    line_t *lines;
    size_t n, cap;
    section_t *secs;
    size_t nsecs, capsecs;
    size_t max, overlap, min;
    int explicit_ids;
} chunker;

void
rag_chunk_opts_default(rag_chunk_opts *o)
{
    o->max_tokens = 500;
    o->overlap_tokens = 75;
    o->min_tokens = 100;
    o->explicit_ids = 0;
}

size_t
rag_slug(const char *text, size_t n, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x80 || isalnum(c) || c == '-' || c == '_')
            out[o++] = (char)tolower(c);
        else if (c == ' ')
            out[o++] = '-';
    }
    /* never cut a UTF-8 sequence in half */
    while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80 &&
           o + 1 >= outlen)
        o--;
    if (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0 && o + 1 >= outlen)
        o--;
    out[o] = '\0';
    return o;
}

/* Removes Markdown inline syntax: [text](url) -> text, `code` -> code,
 * emphasis marks and HTML tags dropped. */
static size_t
plain_inline(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0, i = 0;

    while (i < n && o + 1 < outlen) {
        char c = s[i];
        if (c == '`' || c == '*' ||
            (c == '_' &&
             (i == 0 || i + 1 == n || s[i - 1] == ' ' || s[i + 1] == ' ' ||
              s[i + 1] == '_' || s[i - 1] == '_'))) {
            i++;
        } else if (c == '!' && i + 1 < n && s[i + 1] == '[') {
            i++;
        } else if (c == '[') {
            i++;
        } else if (c == ']' && i + 1 < n && s[i + 1] == '(') {
            const char *close = memchr(s + i, ')', n - i);
            i = close ? (size_t)(close - s) + 1 : i + 1;
        } else if (c == ']') {
            i++;
        } else if (c == '<') {
            const char *close = memchr(s + i, '>', n - i);
            i = close ? (size_t)(close - s) + 1 : i + 1;
        } else if (c == '\\' && i + 1 < n) {
            out[o++] = s[i + 1];
            i += 2;
        } else {
            out[o++] = c;
            i++;
        }
    }
    out[o] = '\0';
    return o;
}

int
rag_md_heading(const char *line, size_t n, char *out, size_t outlen, char *id,
               size_t idlen)
{
    size_t i = 0, level = 0, e;

    if (idlen)
        id[0] = '\0';
    if (outlen)
        out[0] = '\0';
    while (i < n && i < 3 && line[i] == ' ')
        i++;
    while (i < n && line[i] == '#' && level < 7) {
        i++;
        level++;
    }
    if (level == 0 || level > 6)
        return 0;
    if (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '\n' &&
        line[i] != '\r')
        return 0;
    e = n;
    while (e > i && isspace((unsigned char)line[e - 1]))
        e--;
    /* Docusaurus MDX writes the id as a JSX comment after the text */
    if (e > i + 4 && line[e - 1] == '}' && line[e - 2] == '/' &&
        line[e - 3] == '*') {
        size_t b = e - 3;
        while (b > i &&
               !(line[b] == '{' && line[b + 1] == '/' && line[b + 2] == '*'))
            b--;
        if (line[b] == '{') {
            size_t s0 = b + 3, s1 = e - 3;
            while (s0 < s1 && line[s0] == ' ')
                s0++;
            while (s1 > s0 && line[s1 - 1] == ' ')
                s1--;
            if (s0 < s1 && line[s0] == '#' && idlen && s1 - s0 - 1 < idlen) {
                memcpy(id, line + s0 + 1, s1 - s0 - 1);
                id[s1 - s0 - 1] = '\0';
                e = b;
            }
        }
    }
    /* explicit {#id} */
    if (e > i && line[e - 1] == '}') {
        size_t b = e - 1;
        while (b > i && line[b] != '{')
            b--;
        if (line[b] == '{' && b + 1 < e && line[b + 1] == '#') {
            size_t il = e - 1 - (b + 2);
            if (idlen && il < idlen) {
                memcpy(id, line + b + 2, il);
                id[il] = '\0';
            }
            e = b;
        }
    }
    /* closing "###" sequence */
    while (e > i && isspace((unsigned char)line[e - 1]))
        e--;
    {
        size_t h = e;
        while (h > i && line[h - 1] == '#')
            h--;
        if (h < e && (h == i || line[h - 1] == ' '))
            e = h;
    }
    while (e > i && isspace((unsigned char)line[e - 1]))
        e--;
    while (i < e && isspace((unsigned char)line[i]))
        i++;
    if (outlen)
        plain_inline(line + i, e - i, out, outlen);
    return (int)level;
}

static int
push_line(chunker *c, size_t off, size_t len)
{
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 256;
        line_t *v = realloc(c->lines, nc * sizeof(*v));
        if (v == NULL)
            return -1;
        c->lines = v;
        c->cap = nc;
    }
    memset(&c->lines[c->n], 0, sizeof(line_t));
    c->lines[c->n].off = off;
    c->lines[c->n].len = len;
    c->lines[c->n].fence = NO_FENCE;
    c->lines[c->n].table = NO_FENCE;
    c->n++;
    return 0;
}

/* Length of a line's container prefix: indentation and blockquote
 * markers ("> > "), so a fence inside an admonition (rendered as a
 * quote) is a fence too; *depth gets the number of '>' markers. */
static size_t
container_prefix(const char *s, size_t n, int *depth)
{
    size_t i = 0;

    *depth = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i < n && s[i] == '>') {
            i++;
            (*depth)++;
            continue;
        }
        return i;
    }
}

/* Fence opener: container prefix, then >= 3 '`' or '~'. */
static int
fence_open(const char *s, size_t n, char *ch, size_t *flen, int *depth)
{
    size_t i = container_prefix(s, n, depth), k;

    if (i >= n || (s[i] != '`' && s[i] != '~'))
        return 0;
    for (k = i; k < n && s[k] == s[i]; k++)
        ;
    if (k - i < 3)
        return 0;
    if (s[i] == '`' && memchr(s + k, '`', n - k))
        return 0; /* "```x```" is inline code, not a fence */
    *ch = s[i];
    *flen = k - i;
    return 1;
}

/* 1 when the line closes a fence of flen ch's opened at quote depth qd;
 * 2 when it is outside the fence's blockquote (the quote ended, and the
 * fence with it); 0 when it is a line of the fence. */
static int
fence_closes(const char *s, size_t n, char ch, size_t flen, int qd)
{
    int depth;
    size_t i = container_prefix(s, n, &depth), k;

    if (depth < qd)
        return 2;
    if (depth > qd)
        return 0;
    for (k = i; k < n && s[k] == ch; k++)
        ;
    if (k - i < flen)
        return 0;
    for (; k < n; k++)
        if (!isspace((unsigned char)s[k]))
            return 0;
    return 1;
}

static int
is_table_line(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && i < 3 && s[i] == ' ')
        i++;
    return i < n && s[i] == '|';
}

static int
is_table_sep(const char *s, size_t n)
{
    int dash = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            dash = 1;
        else if (s[i] != '|' && s[i] != ':' && !isspace((unsigned char)s[i]))
            return 0;
    }
    return dash;
}

static int
add_section(chunker *c, const char *path, const char *anchor, size_t parent)
{
    if (c->nsecs == c->capsecs) {
        size_t nc = c->capsecs ? c->capsecs * 2 : 32;
        section_t *v = realloc(c->secs, nc * sizeof(*v));
        if (v == NULL)
            return -1;
        c->secs = v;
        c->capsecs = nc;
    }
    c->secs[c->nsecs].path = strdup(path);
    c->secs[c->nsecs].anchor = strdup(anchor);
    c->secs[c->nsecs].parent = parent;
    if (!c->secs[c->nsecs].path || !c->secs[c->nsecs].anchor) {
        free(c->secs[c->nsecs].path);
        free(c->secs[c->nsecs].anchor);
        return -1;
    }
    c->nsecs++;
    return 0;
}

/* Splits the input into lines, cutting paragraph lines over the budget
 * after spaces, and classifies them. */
static int
scan(chunker *c, const char *title)
{
    size_t p = 0, budget = c->max > 16 ? c->max - 8 : c->max;
    size_t open = NO_FENCE, flen = 0, table = NO_FENCE;
    char fch = 0;
    int qd = 0; /* blockquote depth of the open fence */
    char stack[7][256], anchors[7][256];
    size_t open_sec[7] = {0}; /* section open at each level, 0: none */
    char text[256], id[256], slug[256];
    rag_buf path;
    int rc = -1;

    memset(stack, 0, sizeof(stack));
    memset(anchors, 0, sizeof(anchors));
    rag_buf_init(&path, 8192);
    if (add_section(c, title ? title : "", "", 0) != 0)
        goto done;
    while (p < c->len) {
        const char *s = c->md + p;
        const char *nl = memchr(s, '\n', c->len - p);
        size_t n = nl ? (size_t)(nl - s) + 1 : c->len - p;
        size_t i0 = c->n;
        char ch;
        size_t fl;
        int lvl;

        if (push_line(c, p, n) != 0)
            goto done;
        line_t *L = &c->lines[i0];
        L->tokens = rag_tokens_estimate(s, n);
        {
            size_t k = 0;
            while (k < n && isspace((unsigned char)s[k]))
                k++;
            L->blank = k == n;
        }
        if (open != NO_FENCE && qd > 0 &&
            fence_closes(s, n, fch, flen, qd) == 2) {
            /* the blockquote ended without closing its fence: the fence
             * ends with it (CommonMark) */
            c->lines[i0 - 1].fence_close = 1;
            open = NO_FENCE;
        }
        if (open != NO_FENCE) {
            L->fence = open;
            if (fence_closes(s, n, fch, flen, qd) == 1) {
                L->fence_close = 1;
                open = NO_FENCE;
            }
        } else if (fence_open(s, n, &ch, &fl, &qd)) {
            open = i0;
            fch = ch;
            flen = fl;
            L->fence = i0;
            table = NO_FENCE;
        } else if (is_table_line(s, n)) {
            if (table == NO_FENCE) {
                /* a header needs its separator on the next line */
                const char *ns = nl ? nl + 1 : NULL;
                size_t rest = ns ? c->len - (size_t)(ns - c->md) : 0;
                const char *nnl = ns ? memchr(ns, '\n', rest) : NULL;
                size_t nn = ns ? (nnl ? (size_t)(nnl - ns) : rest) : 0;
                if (ns && is_table_line(ns, nn) && is_table_sep(ns, nn))
                    table = i0;
            }
            L->table = table;
        } else {
            table = NO_FENCE;
            if ((lvl = rag_md_heading(s, n, text, sizeof(text), id,
                                      sizeof(id))) > 0) {
                int dup = 0;
                L->heading = lvl;
                snprintf(stack[lvl], sizeof(stack[lvl]), "%s", text);
                for (int k = lvl + 1; k < 7; k++)
                    stack[k][0] = '\0';
                rag_buf_reset(&path);
                if (title && *title && rag_buf_puts(&path, title) != 0)
                    goto done;
                {
                    const char *prev = title && *title ? title : NULL;
                    for (int k = 1; k < 7; k++) {
                        if (!stack[k][0])
                            continue;
                        /* the page's top heading (h1, or DocBook's h2)
                         * repeats the title; a heading repeating its
                         * parent adds nothing either */
                        if (prev &&
                            (strcmp(prev, stack[k]) == 0 ||
                             (prev == title && k == 1 &&
                              strncmp(title, stack[k], strlen(stack[k])) == 0)))
                            continue;
                        if (path.len && rag_buf_puts(&path, " > ") != 0)
                            goto done;
                        if (rag_buf_puts(&path, stack[k]) != 0)
                            goto done;
                        prev = stack[k];
                    }
                }
                if (!id[0] && lvl == 1 && title && strcmp(title, text) == 0) {
                    /* the page's title heading: Docusaurus and most
                     * generators give the h1 no id, so link the page */
                } else if (!id[0] && c->explicit_ids) {
                    /* HTML-derived text: only ids that exist on the page;
                     * else the enclosing section's, else the page top */
                    for (int k = lvl - 1; k >= 1 && !id[0]; k--)
                        snprintf(id, sizeof(id), "%s", anchors[k]);
                } else if (!id[0]) {
                    size_t sl;
                    rag_slug(text, strlen(text), slug, sizeof(slug) - 8);
                    sl = strlen(slug);
                    /* GitHub: repeated slugs get -1, -2, ... */
                    for (size_t k = 1; k < c->nsecs; k++) {
                        const char *a = c->secs[k].anchor;
                        if (strncmp(a, slug, sl) != 0)
                            continue;
                        if (a[sl] == '\0')
                            dup++;
                        else if (a[sl] == '-' && a[sl + 1] &&
                                 strspn(a + sl + 1, "0123456789") ==
                                     strlen(a + sl + 1))
                            dup++;
                    }
                    if (dup)
                        snprintf(id, sizeof(id), "%s-%d", slug, dup);
                    else
                        snprintf(id, sizeof(id), "%s", slug);
                }
                snprintf(anchors[lvl], sizeof(anchors[lvl]), "%s", id);
                for (int k = lvl + 1; k < 7; k++)
                    anchors[k][0] = '\0';
                {
                    size_t parent = 0;
                    for (int k = lvl - 1; k >= 1 && !parent; k--)
                        parent = open_sec[k];
                    if (add_section(c, path.data ? path.data : "", id,
                                    parent) != 0)
                        goto done;
                    open_sec[lvl] = c->nsecs - 1;
                    for (int k = lvl + 1; k < 7; k++)
                        open_sec[k] = 0;
                }
            } else if (!L->blank) {
                L->splittable = 1;
            }
        }
        L->section = c->nsecs - 1;
        /* cut an oversized paragraph line after spaces */
        if (L->splittable && L->tokens > budget) {
            size_t start = 0, w = 0, acc = 0, k;
            line_t proto = *L;
            c->n--;
            /* words are [w, k]; the running sum over words is never below
             * the estimate of their concatenation */
            for (k = 0; k < n; k++) {
                if (s[k] != ' ' && k + 1 < n)
                    continue;
                size_t wt = rag_tokens_estimate(s + w, k + 1 - w);
                if (acc + wt > budget && w > start) {
                    if (push_line(c, p + start, w - start) != 0)
                        goto done;
                    line_t *V = &c->lines[c->n - 1];
                    *V = proto;
                    V->off = p + start;
                    V->len = w - start;
                    V->tokens = rag_tokens_estimate(s + start, V->len);
                    start = w;
                    acc = 0;
                }
                acc += wt;
                w = k + 1;
            }
            if (push_line(c, p + start, n - start) != 0)
                goto done;
            line_t *V = &c->lines[c->n - 1];
            *V = proto;
            V->off = p + start;
            V->len = n - start;
            V->tokens = rag_tokens_estimate(s + start, V->len);
        }
        p += n;
    }
    rc = 0;
done:
    rag_buf_free(&path);
    return rc;
}

/* The text a chunk needs before its first line to be valid Markdown:
 * the fence opener, or a table's header (+ separator). */
static void
prefix_lines(const chunker *c, size_t s, size_t *a, size_t *b, size_t *a2,
             size_t *b2)
{
    const line_t *L = &c->lines[s];

    *a = *b = *a2 = *b2 = 0;
    if (L->fence != NO_FENCE && L->fence != s) {
        *a = L->fence;
        *b = L->fence + 1;
    } else if (L->table != NO_FENCE && s > L->table) {
        *a = L->table;
        *b = s == L->table + 1 ? L->table + 1 : L->table + 2;
    }
    (void)a2;
    (void)b2;
}

static size_t
prefix_tokens(const chunker *c, size_t s)
{
    size_t a, b, a2, b2, t = 0;

    prefix_lines(c, s, &a, &b, &a2, &b2);
    for (size_t i = a; i < b; i++)
        t += c->lines[i].tokens;
    return t;
}

/* Closing fence needed when a chunk ends at line e-1. */
static int
needs_close(const chunker *c, size_t last)
{
    const line_t *L = &c->lines[last];

    return L->fence != NO_FENCE && !L->fence_close;
}

/* Tokens of the closing fence render() adds (the opener's indentation
 * and fence run, a newline, and one more if the last line had none). */
static size_t
close_tokens(const chunker *c, size_t last)
{
    const line_t *F;
    const char *p;
    size_t k = 0, e;

    if (!needs_close(c, last))
        return 0;
    F = &c->lines[c->lines[last].fence];
    p = c->md + F->off;
    {
        int depth;
        k = container_prefix(p, F->len, &depth);
    }
    for (e = k; e < F->len && p[e] == p[k]; e++)
        ;
    return rag_tokens_estimate(p, e) + 2;
}

/* The innermost section enclosing both a and b. */
static size_t
common_section(const chunker *c, size_t a, size_t b)
{
    for (size_t x = a;; x = c->secs[x].parent) {
        for (size_t y = b;; y = c->secs[y].parent) {
            if (x == y)
                return x;
            if (y == 0)
                break;
        }
        if (x == 0)
            return 0;
    }
}

static int
render(chunker *c, size_t ov, size_t s, size_t e, rag_chunk *ch)
{
    rag_buf t;
    size_t a, b, a2, b2;
    int rc = -1;

    rag_buf_init(&t, RAG_CHUNK_MAX_INPUT);
    prefix_lines(c, ov, &a, &b, &a2, &b2);
    for (size_t i = a; i < b; i++)
        if (rag_buf_append(&t, c->md + c->lines[i].off, c->lines[i].len))
            goto done;
    if (t.len && t.data[t.len - 1] != '\n' && rag_buf_putc(&t, '\n'))
        goto done;
    for (size_t i = ov; i < e; i++) {
        const line_t *L = &c->lines[i];
        const char *p = c->md + L->off;
        size_t n = L->len;
        if (L->heading) {
            /* "## Title {#id}" -> "## Title" in the chunk text */
            size_t k = n;
            while (k && isspace((unsigned char)p[k - 1]))
                k--;
            if (k && p[k - 1] == '}') {
                size_t j = k - 1;
                while (j > 0 && p[j] != '{')
                    j--;
                if (p[j] == '{' && p[j + 1] == '#') {
                    while (j > 0 && p[j - 1] == ' ')
                        j--;
                    if (rag_buf_append(&t, p, j) ||
                        rag_buf_append(&t, p + k, n - k))
                        goto done;
                    continue;
                }
            }
        }
        if (rag_buf_append(&t, p, n))
            goto done;
    }
    if (e > ov && needs_close(c, e - 1)) {
        const line_t *F = &c->lines[c->lines[e - 1].fence];
        const char *fp = c->md + F->off;
        size_t k = 0;
        if (t.len && t.data[t.len - 1] != '\n' && rag_buf_putc(&t, '\n'))
            goto done;
        int depth;
        k = container_prefix(fp, F->len, &depth);
        char fc = fp[k];
        if (rag_buf_append(&t, fp, k))
            goto done;
        while (k < F->len && fp[k] == fc) {
            if (rag_buf_putc(&t, fc))
                goto done;
            k++;
        }
        if (rag_buf_putc(&t, '\n'))
            goto done;
    }
    ch->off = c->lines[s].off;
    ch->len = c->lines[e - 1].off + c->lines[e - 1].len - ch->off;
    ch->overlap_off = c->lines[ov].off;
    ch->tokens = rag_tokens_estimate(t.data ? t.data : "", t.len);
    ch->text_len = t.len;
    ch->text = rag_buf_detach(&t);
    {
        /* the section that holds all of the chunk's own text: when small
         * sections are packed together, their common parent, so the
         * link leads to every part of the passage */
        size_t k = s, sec;
        while (k + 1 < e && c->lines[k].blank)
            k++;
        sec = c->lines[k].section;
        for (size_t i = k + 1; i < e; i++)
            if (!c->lines[i].blank)
                sec = common_section(c, sec, c->lines[i].section);
        const section_t *S = &c->secs[sec];
        ch->heading_path = strdup(S->path);
        ch->anchor = strdup(S->anchor);
    }
    if (!ch->text || !ch->heading_path || !ch->anchor)
        goto done;
    rc = 0;
done:
    rag_buf_free(&t);
    return rc;
}

/* Tokens of the section that starts at heading line h. */
static size_t
section_tokens(const chunker *c, size_t h)
{
    size_t t = c->lines[h].tokens;

    for (size_t i = h + 1; i < c->n && !c->lines[i].heading; i++)
        t += c->lines[i].tokens;
    return t;
}

static int
build(chunker *c, rag_chunks *out)
{
    size_t s = 0, prev_s = 0, cap = 0;

    while (s < c->n) {
        size_t ov = s, cur, budget, e;

        /* overlap: whole lines from the previous chunk, same section */
        if (s > 0 && c->overlap && !c->lines[s].heading &&
            c->lines[s].section == c->lines[s - 1].section) {
            size_t t = 0;
            while (ov > prev_s + 1 &&
                   t + c->lines[ov - 1].tokens <= c->overlap &&
                   !c->lines[ov - 1].heading) {
                ov--;
                t += c->lines[ov].tokens;
            }
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            size_t fixed = prefix_tokens(c, ov);
            for (size_t i = ov; i < s; i++)
                fixed += c->lines[i].tokens;
            budget = c->max > fixed ? c->max - fixed : 0;
            if (c->lines[s].tokens + close_tokens(c, s) <= budget || ov == s)
                break;
            ov = s; /* the first line does not fit with overlap: drop it */
        }
        cur = 0;
        e = s;
        while (e < c->n) {
            const line_t *L = &c->lines[e];
            if (e > s && L->heading && cur >= c->min &&
                !(section_tokens(c, e) < c->min &&
                  cur + section_tokens(c, e) <= budget))
                break;
            if (e > s && cur + L->tokens + close_tokens(c, e) > budget)
                break;
            cur += L->tokens;
            e++;
        }
        /* do not end a chunk on its next section's heading */
        if (e < c->n) {
            size_t j = e;
            while (j > s + 1 && c->lines[j - 1].blank)
                j--;
            if (j > s + 1 && c->lines[j - 1].heading)
                e = j - 1;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            rag_chunk *v = realloc(out->v, nc * sizeof(*v));
            if (v == NULL)
                return -1;
            out->v = v;
            cap = nc;
        }
        memset(&out->v[out->n], 0, sizeof(rag_chunk));
        if (render(c, ov, s, e, &out->v[out->n]) != 0) {
            out->n++; /* freed by the caller */
            return -1;
        }
        out->n++;
        prev_s = s;
        s = e;
    }
    return 0;
}

void
rag_chunks_free(rag_chunks *cs)
{
    if (cs == NULL)
        return;
    for (size_t i = 0; i < cs->n; i++) {
        free(cs->v[i].text);
        free(cs->v[i].heading_path);
        free(cs->v[i].anchor);
    }
    free(cs->v);
    cs->v = NULL;
    cs->n = 0;
}

int
rag_chunk_markdown(const char *md, size_t len, const char *title,
                   const rag_chunk_opts *o, rag_chunks *out)
{
    chunker c;
    rag_chunk_opts d;
    int rc = -1;

    out->v = NULL;
    out->n = 0;
    if (len > RAG_CHUNK_MAX_INPUT)
        return -1;
    if (o == NULL) {
        rag_chunk_opts_default(&d);
        o = &d;
    }
    memset(&c, 0, sizeof(c));
    c.md = md;
    c.len = len;
    c.explicit_ids = o->explicit_ids;
    c.max = o->max_tokens < 50     ? 50
            : o->max_tokens > 8000 ? 8000
                                   : o->max_tokens;
    c.overlap = o->overlap_tokens > c.max / 2 ? c.max / 2 : o->overlap_tokens;
    c.min = o->min_tokens ? o->min_tokens : c.max / 5;
    if (c.min > c.max / 2)
        c.min = c.max / 2;
    if (scan(&c, title) != 0 || build(&c, out) != 0) {
        rag_chunks_free(out);
        goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < c.nsecs; i++) {
        free(c.secs[i].path);
        free(c.secs[i].anchor);
    }
    free(c.secs);
    free(c.lines);
    return rc;
}
