#include "ingest_mdx.h"

#include "rag_html.h"
#include "rag_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NEST 16

typedef struct {
    const char *p;
    size_t n; /* without '\n' */
} line_t;

typedef struct {
    const char *rel_file, *page_url;
    ingest_mdx_link_fn link;
    void *ud;
    int failed;
} mdx;

static void
out_put(mdx *m, rag_buf *b, const char *s, size_t n)
{
    if (rag_buf_append(b, s, n) != 0)
        m->failed = 1;
}

static void
out_puts(mdx *m, rag_buf *b, const char *s)
{
    out_put(m, b, s, strlen(s));
}

static size_t
lead_spaces(const line_t *l)
{
    size_t i = 0;

    while (i < l->n && (l->p[i] == ' ' || l->p[i] == '\t'))
        i++;
    return i;
}

/* A fence opener: its char and run length into *ch / *len. */
static int
is_fence(const line_t *l, char *ch, size_t *len)
{
    size_t i = lead_spaces(l), k;

    if (i >= l->n || (l->p[i] != '`' && l->p[i] != '~'))
        return 0;
    for (k = i; k < l->n && l->p[k] == l->p[i]; k++)
        ;
    if (k - i < 3)
        return 0;
    *ch = l->p[i];
    *len = k - i;
    return 1;
}

static int
closes_fence(const line_t *l, char ch, size_t len)
{
    size_t i = lead_spaces(l), k;

    for (k = i; k < l->n && l->p[k] == ch; k++)
        ;
    if (k - i < len)
        return 0;
    for (; k < l->n; k++)
        if (!isspace((unsigned char)l->p[k]))
            return 0;
    return 1;
}

/* Docusaurus' magic comments in code: "// highlight-next-line",
 * "# highlight-start", "<!-- highlight-end -->", ... */
static int
is_magic_comment(const line_t *l)
{
    static const char *const m[] = {"highlight-next-line", "highlight-start",
                                    "highlight-end", NULL};
    size_t i = lead_spaces(l);
    const char *s = l->p + i;
    size_t n = l->n - i;
    char buf[128];
    size_t o = 0;

    /* keep only the words: comment markers and spaces go */
    for (size_t k = 0; k < n && o + 1 < sizeof(buf); k++)
        if (isalnum((unsigned char)s[k]) || s[k] == '-')
            buf[o++] = s[k];
    buf[o] = '\0';
    for (int k = 0; m[k]; k++)
        if (strcmp(buf, m[k]) == 0)
            return 1;
    return 0;
}

/* The value of attribute name="..." (or '...') in s[0..n). */
static int
attr_val(const char *s, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);

    for (size_t i = 0; i + nl + 2 < n; i++) {
        if ((i == 0 || isspace((unsigned char)s[i - 1])) &&
            strncmp(s + i, name, nl) == 0 && s[i + nl] == '=' &&
            (s[i + nl + 1] == '"' || s[i + nl + 1] == '\'')) {
            char q = s[i + nl + 1];
            size_t b = i + nl + 2, e = b;
            while (e < n && s[e] != q)
                e++;
            if (e - b >= outlen)
                e = b + outlen - 1;
            memcpy(out, s + b, e - b);
            out[e - b] = '\0';
            return 1;
        }
    }
    return 0;
}

/* Copies a text line with its links resolved. */
static void
put_text_line(mdx *m, rag_buf *b, const char *s, size_t n)
{
    size_t i = 0, start = 0;

    while (i + 1 < n) {
        const char *close;
        if (s[i] == ']' && s[i + 1] == '(' &&
            (close = memchr(s + i + 2, ')', n - i - 2)) != NULL) {
            size_t tl = (size_t)(close - (s + i + 2));
            char target[1024], abs[RAG_URL_MAX], frag[512] = "";
            if (tl > 0 && tl < sizeof(target)) {
                memcpy(target, s + i + 2, tl);
                target[tl] = '\0';
                char *hash = strchr(target, '#'), *dot;
                if (hash) {
                    snprintf(frag, sizeof(frag), "%s", hash);
                    *hash = '\0';
                }
                dot = strrchr(target, '.');
                abs[0] = '\0';
                if (!strstr(target, "://") && dot &&
                    (strcmp(dot, ".md") == 0 || strcmp(dot, ".mdx") == 0) &&
                    target[0] != '/' && m->link) {
                    /* another source file: its page's URL */
                    char rel[2048];
                    const char *slash = strrchr(m->rel_file, '/');
                    snprintf(rel, sizeof(rel), "%.*s%s",
                             slash ? (int)(slash - m->rel_file + 1) : 0,
                             m->rel_file, target);
                    if (m->link(m->ud, rel, abs, sizeof(abs)) != 0)
                        abs[0] = '\0';
                } else if (!strstr(target, "://") && target[0] &&
                           strncmp(target, "mailto:", 7) != 0) {
                    if (rag_url_resolve(m->page_url, target, 0, abs,
                                        sizeof(abs)) != 0)
                        abs[0] = '\0';
                }
                if (abs[0]) {
                    out_put(m, b, s + start, i + 2 - start);
                    out_puts(m, b, abs);
                    out_puts(m, b, frag);
                    i = (size_t)(close - s);
                    start = i;
                    continue;
                }
            }
        }
        i++;
    }
    out_put(m, b, s + start, n - start);
}

/* "Note" from "note": the kind's display name. */
static void
kind_name(const char *s, size_t n, char *out, size_t outlen)
{
    size_t k = 0;

    for (; k < n && k + 1 < outlen && (isalnum((unsigned char)s[k])); k++)
        out[k] = (char)(k ? s[k] : toupper((unsigned char)s[k]));
    out[k] = '\0';
}

/* Colons opening or closing an admonition ("::: " or ":::kind"): their
 * count, 0 if the line is none. */
static size_t
colons(const line_t *l)
{
    size_t i = lead_spaces(l), k = i;

    while (k < l->n && l->p[k] == ':')
        k++;
    return k - i >= 3 ? k - i : 0;
}

static void convert(mdx *m, const line_t *v, size_t a, size_t b, rag_buf *o);

/* Appends text as a blockquote, the first line after head. */
static void
quote(mdx *m, rag_buf *o, const char *head, const char *text, int same_line)
{
    const char *p = text;
    int first = 1;

    out_puts(m, o, "> ");
    out_puts(m, o, head);
    if (!same_line) {
        if (!*p) {
            out_puts(m, o, "\n");
            return;
        }
        out_puts(m, o, "\n>\n");
        first = 0;
    } else if (*p) {
        out_puts(m, o, " ");
    } else {
        out_puts(m, o, "\n");
        return;
    }
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (!first)
            out_puts(m, o, n ? "> " : ">");
        out_put(m, o, p, n);
        out_puts(m, o, "\n");
        first = 0;
        if (!nl)
            break;
        p = nl + 1;
    }
}

static void
admonition(mdx *m, const line_t *open, const line_t *v, size_t a, size_t b,
           rag_buf *o)
{
    size_t i = lead_spaces(open), n = open->n;
    const char *s = open->p;
    char kind[32], title[512] = "", head[600];
    rag_buf body;
    size_t ks, e;

    while (i < n && s[i] == ':')
        i++;
    ks = i;
    while (i < n && isalnum((unsigned char)s[i]))
        i++;
    kind_name(s + ks, i - ks, kind, sizeof(kind));
    if (!kind[0])
        snprintf(kind, sizeof(kind), "Note");
    if (i < n && s[i] == '[') {
        const char *c = memchr(s + i, ']', n - i);
        e = c ? (size_t)(c - s) : n;
        snprintf(title, sizeof(title), "%.*s", (int)(e - i - 1), s + i + 1);
    } else {
        while (i < n && s[i] == ' ')
            i++;
        e = n;
        while (e > i && isspace((unsigned char)s[e - 1]))
            e--;
        if (e > i && s[i] != '{')
            snprintf(title, sizeof(title), "%.*s", (int)(e - i), s + i);
    }
    rag_buf_init(&body, 0);
    convert(m, v, a, b, &body);
    /* no blank lines at either end */
    {
        char *t = body.data ? body.data : "";
        size_t len = body.len;
        while (len && (t[len - 1] == '\n' || t[len - 1] == ' '))
            len--;
        while (len && *t == '\n') {
            t++;
            len--;
        }
        char *copy = strndup(t, len);
        if (copy == NULL) {
            m->failed = 1;
        } else {
            if (title[0] && !rag_html_same_letters(kind, title)) {
                snprintf(head, sizeof(head), "**%s: %s**", kind, title);
                quote(m, o, head, copy, 0);
            } else {
                snprintf(head, sizeof(head), "**%s:**", kind);
                quote(m, o, head, copy, 1);
            }
            free(copy);
        }
    }
    rag_buf_free(&body);
}

/* 1 when the line is only a JSX/HTML tag ("<TabItem ...>", "</div>"). */
static int
tag_only(const line_t *l, char *name, size_t namelen, int *closing)
{
    size_t i = lead_spaces(l), e = l->n, k = 0;

    while (e > i && isspace((unsigned char)l->p[e - 1]))
        e--;
    if (e - i < 3 || l->p[i] != '<' || l->p[e - 1] != '>')
        return 0;
    i++;
    *closing = l->p[i] == '/';
    if (*closing)
        i++;
    if (i >= e || !isalpha((unsigned char)l->p[i]))
        return 0;
    while (i < e && (isalnum((unsigned char)l->p[i]) || l->p[i] == '.') &&
           k + 1 < namelen)
        name[k++] = l->p[i++];
    name[k] = '\0';
    /* one tag: no other '<' inside, except <summary>x</summary> */
    return memchr(l->p + i, '<', e - i) == NULL ||
           strcasecmp(name, "summary") == 0;
}

static void
convert(mdx *m, const line_t *v, size_t a, size_t b, rag_buf *o)
{
    char fch = 0;
    size_t flen = 0;
    int in_comment = 0, in_html_comment = 0;

    for (size_t i = a; i < b && !m->failed; i++) {
        const line_t *l = &v[i];
        char ch, name[64];
        size_t len, nc;
        int closing;

        if (flen) {
            /* inside a code block: copied, magic comments dropped */
            if (closes_fence(l, fch, flen))
                flen = 0;
            else if (is_magic_comment(l))
                continue;
            out_put(m, o, l->p, l->n);
            out_puts(m, o, "\n");
            continue;
        }
        if (in_comment || in_html_comment) {
            const char *end = in_comment ? "*/}" : "-->";
            const char *e = memmem(l->p, l->n, end, 3);
            if (e) {
                in_comment = in_html_comment = 0;
                size_t rest = l->n - (size_t)(e + 3 - l->p);
                if (rest) {
                    line_t t = {e + 3, rest};
                    convert(m, &t, 0, 1, o);
                }
            }
            continue;
        }
        if (is_fence(l, &ch, &len)) {
            /* "```js title="x.js" {1,3} showLineNumbers" */
            size_t k = lead_spaces(l) + len, ls = k;
            char title[512];
            fch = ch;
            flen = len;
            while (k < l->n && !isspace((unsigned char)l->p[k]) &&
                   l->p[k] != '{')
                k++;
            if (attr_val(l->p, l->n, "title", title, sizeof(title))) {
                out_puts(m, o, title);
                out_puts(m, o, "\n\n");
            }
            out_put(m, o, l->p, ls);
            out_put(m, o, l->p + ls, k - ls);
            out_puts(m, o, "\n");
            continue;
        }
        if ((nc = colons(l)) && lead_spaces(l) + nc < l->n &&
            isalpha((unsigned char)l->p[lead_spaces(l) + nc])) {
            /* an admonition: find its closing line, same colons */
            size_t depth = 1, j;
            for (j = i + 1; j < b; j++) {
                size_t c2 = colons(&v[j]);
                if (c2 != nc)
                    continue;
                if (lead_spaces(&v[j]) + c2 < v[j].n &&
                    isalpha((unsigned char)v[j].p[lead_spaces(&v[j]) + c2]))
                    depth++;
                else if (--depth == 0)
                    break;
            }
            admonition(m, l, v, i + 1, j, o);
            i = j; /* past the closing ::: */
            continue;
        }
        if (l->n >= 7 && (strncmp(l->p, "import ", 7) == 0 ||
                          strncmp(l->p, "export ", 7) == 0))
            continue;
        {
            /* comments: whole or starting on this line */
            const char *c1 = memmem(l->p, l->n, "{/*", 3);
            const char *c2 = memmem(l->p, l->n, "<!--", 4);
            const char *c = c1 && (!c2 || c1 < c2) ? c1 : c2;
            if (c && c == c1 && lead_spaces(l) < l->n &&
                l->p[lead_spaces(l)] == '#') {
                /* "## Install" + an MDX comment holding "#custom-id" is
                 * Docusaurus' heading id in MDX, kept as "{#custom-id}" */
                const char *h = c + 3,
                           *e = memmem(c, (size_t)(l->p + l->n - c), "*/}", 3);
                while (h < l->p + l->n && *h == ' ')
                    h++;
                if (e && h < e && *h == '#') {
                    const char *ie = e;
                    while (ie > h && ie[-1] == ' ')
                        ie--;
                    rag_buf t;
                    rag_buf_init(&t, 0);
                    out_put(m, &t, l->p, (size_t)(c - l->p));
                    out_puts(m, &t, "{");
                    out_put(m, &t, h, (size_t)(ie - h));
                    out_puts(m, &t, "}");
                    out_put(m, &t, e + 3, (size_t)(l->p + l->n - (e + 3)));
                    out_put(m, o, t.data ? t.data : "", t.len);
                    out_puts(m, o, "\n");
                    rag_buf_free(&t);
                    continue;
                }
            }
            if (c) {
                int mdxc = c == c1;
                const char *end = mdxc ? "*/}" : "-->";
                const char *e = memmem(c, (size_t)(l->p + l->n - c), end, 3);
                rag_buf t;
                rag_buf_init(&t, 0);
                out_put(m, &t, l->p, (size_t)(c - l->p));
                if (e)
                    out_put(m, &t, e + 3, (size_t)(l->p + l->n - (e + 3)));
                else if (mdxc)
                    in_comment = 1;
                else
                    in_html_comment = 1;
                {
                    size_t k = 0;
                    while (k < t.len && isspace((unsigned char)t.data[k]))
                        k++;
                    if (k < t.len) {
                        line_t tl = {t.data, t.len};
                        convert(m, &tl, 0, 1, o);
                    } else if (l->n && !e) {
                        /* the line was only a comment opener */
                    }
                }
                rag_buf_free(&t);
                continue;
            }
        }
        if (tag_only(l, name, sizeof(name), &closing)) {
            char label[256];
            if (!closing && strcmp(name, "TabItem") == 0 &&
                (attr_val(l->p, l->n, "label", label, sizeof(label)) ||
                 attr_val(l->p, l->n, "value", label, sizeof(label)))) {
                out_puts(m, o, "**");
                out_puts(m, o, label);
                out_puts(m, o, ":**\n\n");
            } else if (strcasecmp(name, "summary") == 0 && !closing) {
                const char *s = memchr(l->p, '>', l->n);
                const char *e =
                    s ? memmem(s, (size_t)(l->p + l->n - s), "</summary>", 10)
                      : NULL;
                if (s && e && e > s + 1) {
                    out_puts(m, o, "**");
                    out_put(m, o, s + 1, (size_t)(e - s - 1));
                    out_puts(m, o, "**\n\n");
                }
            }
            continue; /* other tags are not text */
        }
        put_text_line(m, o, l->p, l->n);
        out_puts(m, o, "\n");
    }
}

int
ingest_mdx_convert(const char *md, size_t len, const char *rel_file,
                   const char *page_url, ingest_mdx_link_fn link, void *ud,
                   rag_buf *out)
{
    line_t *v = NULL;
    size_t n = 0, cap = 0;
    const char *p = md, *end = md + len;
    mdx m = {rel_file, page_url, link, ud, 0};
    rag_buf raw;

    (void)MAX_NEST;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            line_t *t = realloc(v, nc * sizeof(*t));
            if (t == NULL) {
                free(v);
                return -1;
            }
            v = t;
            cap = nc;
        }
        if (ln && p[ln - 1] == '\r')
            ln--;
        v[n].p = p;
        v[n].n = ln;
        n++;
        p = nl ? nl + 1 : end;
    }
    rag_buf_init(&raw, 0);
    convert(&m, v, 0, n, &raw);
    free(v);
    /* at most one blank line in a row (dropped tags leave gaps) */
    if (!m.failed && raw.data) {
        int blank = 0;
        const char *q = raw.data;
        while (*q) {
            const char *nl = strchr(q, '\n');
            size_t ln = nl ? (size_t)(nl - q) : strlen(q), k = 0;
            while (k < ln && isspace((unsigned char)q[k]))
                k++;
            if (k == ln) {
                if (!blank && out->len)
                    m.failed |= rag_buf_putc(out, '\n') != 0;
                blank = 1;
            } else {
                blank = 0;
                m.failed |= rag_buf_append(out, q, ln) != 0 ||
                            rag_buf_putc(out, '\n') != 0;
            }
            if (!nl)
                break;
            q = nl + 1;
        }
    }
    rag_buf_free(&raw);
    return m.failed ? -1 : 0;
}
