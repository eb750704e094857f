#include "rag_html.h"

#include "rag_buf.h"
#include "rag_charset.h"
#include "rag_url.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH RAG_HTML_MAX_DEPTH
#define MAX_SEL 16
#define MAX_TABS 32

/* ---- selectors -------------------------------------------------------- */

typedef struct {
    char tag[32];
    char id[128];
    char cls[4][64];
    int ncls;
    char attr[32];
    char val[128];
} simple_sel;

typedef struct {
    simple_sel s[MAX_SEL];
    int n;
} sel_list;

static int
sel_ident(const char **pp, char *out, size_t outlen)
{
    const char *p = *pp;
    size_t n = 0;

    while (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == ':') {
        if (n + 1 >= outlen)
            return -1;
        out[n++] = *p++;
    }
    out[n] = '\0';
    *pp = p;
    return n ? 0 : -1;
}

static int
sel_parse(const char *text, sel_list *l)
{
    const char *p = text;

    memset(l, 0, sizeof(*l));
    for (;;) {
        simple_sel *s;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        if (l->n == MAX_SEL)
            return -1;
        s = &l->s[l->n];
        if (isalpha((unsigned char)*p) || *p == '*') {
            if (*p == '*')
                p++;
            else if (sel_ident(&p, s->tag, sizeof(s->tag)) != 0)
                return -1;
        }
        for (;;) {
            if (*p == '.') {
                p++;
                if (s->ncls == 4 ||
                    sel_ident(&p, s->cls[s->ncls++], sizeof(s->cls[0])))
                    return -1;
            } else if (*p == '#') {
                p++;
                if (sel_ident(&p, s->id, sizeof(s->id)) != 0)
                    return -1;
            } else if (*p == '[') {
                p++;
                if (sel_ident(&p, s->attr, sizeof(s->attr)) != 0)
                    return -1;
                if (*p == '=') {
                    char q = 0;
                    size_t n = 0;
                    p++;
                    if (*p == '"' || *p == '\'')
                        q = *p++;
                    while (*p && *p != (q ? q : ']')) {
                        if (n + 1 >= sizeof(s->val))
                            return -1;
                        s->val[n++] = *p++;
                    }
                    s->val[n] = '\0';
                    if (q) {
                        if (*p != q)
                            return -1;
                        p++;
                    }
                } else {
                    s->val[0] = '\x01'; /* presence only */
                }
                if (*p != ']')
                    return -1;
                p++;
            } else {
                break;
            }
        }
        if (!s->tag[0] && !s->id[0] && !s->ncls && !s->attr[0])
            return -1;
        l->n++;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '\0')
            return -1; /* descendant/child combinators not supported */
    }
    return l->n ? 0 : -1;
}

int
rag_html_selector_check(const char *selector)
{
    sel_list l;

    return sel_parse(selector, &l);
}

static const char *
attr(xmlNode *n, const char *name)
{
    for (xmlAttr *a = n->properties; a; a = a->next) {
        if (strcasecmp((const char *)a->name, name) == 0) {
            if (a->children && a->children->type == XML_TEXT_NODE &&
                a->children->content)
                return (const char *)a->children->content;
            return "";
        }
    }
    return NULL;
}

/* 1 if the class attribute contains token name, or a token starting with
 * name followed by "_" (CSS-module hashes: "admonitionHeading_Gvgb"). */
static int
has_class_ex(xmlNode *n, const char *name, int module)
{
    const char *c = attr(n, "class");
    size_t nl = strlen(name);

    if (c == NULL)
        return 0;
    while (*c) {
        while (isspace((unsigned char)*c))
            c++;
        size_t tl = strcspn(c, " \t\r\n");
        if (tl == nl && strncmp(c, name, nl) == 0)
            return 1;
        if (module && tl > nl && strncmp(c, name, nl) == 0 && c[nl] == '_')
            return 1;
        c += tl;
    }
    return 0;
}

static int
has_class(xmlNode *n, const char *name)
{
    return has_class_ex(n, name, 0);
}

static int
tag_is(xmlNode *n, const char *t)
{
    return n->type == XML_ELEMENT_NODE &&
           strcasecmp((const char *)n->name, t) == 0;
}

static int
sel_match(xmlNode *n, const simple_sel *s)
{
    const char *v;

    if (n->type != XML_ELEMENT_NODE)
        return 0;
    if (s->tag[0] && strcasecmp((const char *)n->name, s->tag) != 0)
        return 0;
    if (s->id[0] && ((v = attr(n, "id")) == NULL || strcmp(v, s->id) != 0))
        return 0;
    for (int i = 0; i < s->ncls; i++)
        if (!has_class(n, s->cls[i]))
            return 0;
    if (s->attr[0]) {
        if ((v = attr(n, s->attr)) == NULL)
            return 0;
        if (s->val[0] != '\x01' && strcmp(v, s->val) != 0)
            return 0;
    }
    return 1;
}

static xmlNode *
sel_find(xmlNode *n, const simple_sel *s, int depth)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (sel_match(n, s))
            return n;
        if (depth < MAX_DEPTH) {
            xmlNode *r = sel_find(n->children, s, depth + 1);
            if (r)
                return r;
        }
    }
    return NULL;
}

/* ---- conversion context ----------------------------------------------- */

typedef struct {
    const char *base;     /* page URL (or <base href>) */
    int in_table;         /* <br> and blocks become spaces */
    int oom;              /* an append failed (output limit) */
    int flattened;        /* markup deeper than MAX_DEPTH kept as text */
    xmlNode *skip;        /* admonition title rendered separately */
    xmlNode *last;        /* the last top-level node of the main content */
    char *tabs[MAX_TABS]; /* labels of the last tablist, in order */
    int ntabs, next_tab;
} ctx;

typedef struct {
    rag_buf out;  /* finished blocks separated by blank lines */
    rag_buf para; /* inline text of the paragraph being built */
} blk;

static void
blk_init(blk *b)
{
    rag_buf_init(&b->out, RAG_HTML_MAX_OUTPUT);
    rag_buf_init(&b->para, RAG_HTML_MAX_OUTPUT);
}

static void
blk_free(blk *b)
{
    rag_buf_free(&b->out);
    rag_buf_free(&b->para);
}

static void
put(ctx *c, rag_buf *b, const char *s, size_t n)
{
    if (rag_buf_append(b, s, n) != 0)
        c->oom = 1;
}

static void
puts_(ctx *c, rag_buf *b, const char *s)
{
    put(c, b, s, strlen(s));
}

static int
last_is_space(const rag_buf *b)
{
    return b->len == 0 || b->data[b->len - 1] == ' ' ||
           b->data[b->len - 1] == '\n';
}

/* Length of a zero-width or invisible UTF-8 sequence at s, else 0. */
static size_t
zero_width(const unsigned char *s, size_t n)
{
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
        (s[2] >= 0x8b && s[2] <= 0x8f))
        return 3; /* U+200B..U+200F */
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0xa0)
        return 3; /* U+2060 word joiner */
    if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
        return 3; /* U+FEFF */
    if (n >= 2 && s[0] == 0xc2 && s[1] == 0xad)
        return 2; /* soft hyphen */
    return 0;
}

/* Appends text collapsing whitespace runs (and NBSP) to one space. */
static void
put_text(ctx *c, rag_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, z, start;

    while (i < n) {
        if (isspace(s[i]) || (i + 1 < n && s[i] == 0xc2 && s[i + 1] == 0xa0)) {
            i += s[i] == 0xc2 ? 2 : 1;
            if (!last_is_space(b))
                put(c, b, " ", 1);
            continue;
        }
        if ((z = zero_width(s + i, n - i)) != 0) {
            i += z;
            continue;
        }
        start = i;
        while (i < n && !isspace(s[i]) && s[i] != 0xc2 && s[i] != 0xe2 &&
               s[i] != 0xef)
            i++;
        if (i == start)
            i++; /* a lead byte that is not zero-width: keep it */
        put(c, b, str + start, i - start);
    }
}

static void
rtrim(rag_buf *b)
{
    while (b->len &&
           (b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\n' ||
            b->data[b->len - 1] == '\t'))
        b->data[--b->len] = '\0';
}

static void
blk_add(ctx *c, blk *b, const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\n')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        n--;
    if (n == 0)
        return;
    if (b->out.len)
        put(c, &b->out, "\n\n", 2);
    put(c, &b->out, s, n);
}

static void
blk_flush(ctx *c, blk *b)
{
    /* drop trailing spaces on each line of the paragraph */
    rtrim(&b->para);
    if (b->para.len)
        blk_add(c, b, b->para.data, b->para.len);
    rag_buf_reset(&b->para);
}

/* Finishes b and returns its text (owned by b). */
static const char *
blk_text(ctx *c, blk *b)
{
    blk_flush(c, b);
    return b->out.data ? b->out.data : "";
}

/* Appends text with every line prefixed; first line gets first. */
static void
put_prefixed(ctx *c, rag_buf *dst, const char *text, const char *first,
             const char *rest)
{
    const char *p = text;
    int line = 0;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *pre = line == 0 ? first : rest;
        if (n == 0 && line > 0) {
            /* keep blank lines blank (no trailing spaces) */
            size_t pl = strlen(pre);
            while (pl && pre[pl - 1] == ' ')
                pl--;
            put(c, dst, pre, pl);
        } else {
            puts_(c, dst, pre);
            put(c, dst, p, n);
        }
        if (!nl)
            break;
        put(c, dst, "\n", 1);
        p = nl + 1;
        line++;
    }
}

/* ---- classification ----------------------------------------------------- */

static const char *const drop_tags[] = {
    "nav",      "footer",   "header", "aside", "script", "style",
    "noscript", "svg",      "button", "form",  "input",  "select",
    "textarea", "template", "head",   "link",  "meta",   "object",
    "embed",    "canvas",   "dialog", "math",  "map",    NULL};

/* Page chrome of Docusaurus, Sphinx, MkDocs and DocBook (PostgreSQL). */
static const char *const drop_classes[] = {"navheader",
                                           "navfooter",
                                           "headerlink",
                                           "hash-link",
                                           "theme-edit-this-page",
                                           "pagination-nav",
                                           "breadcrumbs",
                                           "theme-doc-breadcrumbs",
                                           "theme-doc-toc-mobile",
                                           "theme-doc-toc-desktop",
                                           "table-of-contents",
                                           "theme-doc-footer",
                                           "theme-last-updated",
                                           "theme-doc-version-badge",
                                           "theme-doc-version-banner",
                                           "sphinxsidebar",
                                           "related",
                                           "skip-link",
                                           "skipToContent",
                                           "visually-hidden",
                                           "sr-only",
                                           "screen-reader-text",
                                           "copybtn",
                                           "buttonGroup",
                                           "md-source-file",
                                           "rst-footer-buttons",
                                           "tocCollapsible",
                                           "headerlink",
                                           "navbar",
                                           "sidebar",
                                           "footer",
                                           NULL};

static const char *const block_tags[] = {
    "p",          "div",     "section", "article", "main",    "body",
    "html",       "h1",      "h2",      "h3",      "h4",      "h5",
    "h6",         "ul",      "ol",      "li",      "pre",     "table",
    "blockquote", "dl",      "dt",      "dd",      "hr",      "figure",
    "figcaption", "details", "summary", "address", "center",  "fieldset",
    "tr",         "td",      "th",      "thead",   "tbody",   "tfoot",
    "caption",    "iframe",  "menu",    "hgroup",  "picture", "video",
    "header",     "footer",  "nav",     "aside",   NULL};

static int
in_list(const char *name, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcasecmp(name, list[i]) == 0)
            return 1;
    return 0;
}

static int
is_block(xmlNode *n)
{
    return n->type == XML_ELEMENT_NODE &&
           in_list((const char *)n->name, block_tags);
}

static int
heading_level(xmlNode *n)
{
    const char *t = (const char *)n->name;

    if (n->type == XML_ELEMENT_NODE && (t[0] == 'h' || t[0] == 'H') &&
        t[1] >= '1' && t[1] <= '6' && t[2] == '\0')
        return t[1] - '0';
    return 0;
}

static void text_of(ctx *c, xmlNode *n, rag_buf *b, int depth);

static int
is_chrome_link(ctx *c, xmlNode *n)
{
    rag_buf t;
    int r = 0;

    if (!tag_is(n, "a"))
        return 0;
    rag_buf_init(&t, 4096);
    text_of(c, n->children, &t, 0);
    rtrim(&t);
    if (t.len && (strcasecmp(t.data, "edit this page") == 0 ||
                  strcasecmp(t.data, "skip to main content") == 0 ||
                  strcasecmp(t.data, "skip to content") == 0 ||
                  strcasecmp(t.data, "edit on github") == 0 ||
                  strcasecmp(t.data, "view page source") == 0))
        r = 1;
    rag_buf_free(&t);
    return r;
}

static int is_admonition(xmlNode *n);
static xmlNode *first_heading(xmlNode *n, int depth);
static xmlNode *find_tag(xmlNode *n, const char *tag, int depth);

static int
dropped(ctx *c, xmlNode *n)
{
    const char *v;

    if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE ||
        n->type == XML_DTD_NODE)
        return 1;
    if (n->type != XML_ELEMENT_NODE)
        return 0;
    if (n == c->skip)
        return 1;
    /* Docusaurus wraps the page's h1 in a <header> inside the article */
    if (tag_is(n, "header") && first_heading(n->children, 0) &&
        !find_tag(n->children, "nav", 0))
        return 0;
    if (in_list((const char *)n->name, drop_tags) &&
        !(tag_is(n, "aside") && is_admonition(n)))
        return 1;
    for (int i = 0; drop_classes[i]; i++)
        if (has_class_ex(n, drop_classes[i], 1))
            return 1;
    /* hidden tab panels are content a click away: kept */
    if (attr(n, "hidden") &&
        !((v = attr(n, "role")) && strcmp(v, "tabpanel") == 0))
        return 1;
    if ((v = attr(n, "aria-hidden")) && strcmp(v, "true") == 0)
        return 1;
    if ((v = attr(n, "role")) &&
        (strcmp(v, "navigation") == 0 || strcmp(v, "search") == 0 ||
         strcmp(v, "banner") == 0 || strcmp(v, "contentinfo") == 0))
        return 1;
    return is_chrome_link(c, n);
}

/* Plain text of a subtree (whitespace collapsed), for titles. */
static void
text_of(ctx *c, xmlNode *n, rag_buf *b, int depth)
{
    for (; n && depth < MAX_DEPTH; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                put_text(c, b, (const char *)n->content,
                         strlen((const char *)n->content));
        } else if (n->type == XML_ELEMENT_NODE) {
            if (tag_is(n, "script") || tag_is(n, "style") || tag_is(n, "svg") ||
                has_class(n, "headerlink") || has_class(n, "hash-link"))
                continue;
            if (is_block(n) && !last_is_space(b))
                put(c, b, " ", 1);
            text_of(c, n->children, b, depth + 1);
        }
    }
}

/* Preorder successor of n inside root's subtree (root's siblings are
 * never visited); skip: do not enter n's children. No recursion, so any
 * depth is fine. */
static xmlNode *
walk_next(xmlNode *n, xmlNode *root, int skip)
{
    if (!skip && n->type == XML_ELEMENT_NODE && n->children)
        return n->children;
    while (n && n != root) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

/* The words of the subtree at n (n included) for markup nested deeper
 * than MAX_DEPTH: its structure is lost but never its text. raw: code
 * (whitespace kept, <br> is a newline); else blocks become spaces. */
static void
flat_text(ctx *c, xmlNode *n, rag_buf *b, int raw)
{
    c->flattened = 1;
    for (xmlNode *p = n; p;) {
        int skip = 0;
        if (p->type == XML_TEXT_NODE || p->type == XML_CDATA_SECTION_NODE) {
            if (p->content) {
                size_t len = strlen((const char *)p->content);
                if (raw)
                    put(c, b, (const char *)p->content, len);
                else
                    put_text(c, b, (const char *)p->content, len);
            }
        } else if (p->type == XML_ELEMENT_NODE) {
            if (dropped(c, p))
                skip = 1;
            else if (raw && tag_is(p, "br"))
                put(c, b, "\n", 1);
            else if (!raw && is_block(p) && !last_is_space(b))
                put(c, b, " ", 1);
        } else {
            skip = 1;
        }
        p = walk_next(p, n, skip);
    }
}

/* ---- inline -------------------------------------------------------------- */

static void inline_nodes(ctx *c, xmlNode *n, rag_buf *b, int depth);
static void block_nodes(ctx *c, xmlNode *n, blk *b, int depth);

/* Writes url with the characters that end a Markdown link target
 * escaped. */
static void
put_url(ctx *c, rag_buf *b, const char *u)
{
    for (; *u; u++) {
        if (*u == '(')
            puts_(c, b, "%28");
        else if (*u == ')')
            puts_(c, b, "%29");
        else
            put(c, b, u, 1);
    }
}

static int
absolute(ctx *c, const char *href, char *out, size_t outlen)
{
    return rag_url_resolve(c->base, href, 1, out, outlen);
}

/* Wraps the inline rendering of n's children in mark (** * etc.), keeping
 * outer whitespace outside the markers. */
static void
wrap_inline(ctx *c, xmlNode *n, rag_buf *b, const char *mark, int depth)
{
    rag_buf t;
    size_t s = 0, e;

    rag_buf_init(&t, RAG_HTML_MAX_OUTPUT);
    inline_nodes(c, n->children, &t, depth + 1);
    e = t.len;
    while (s < e && (t.data[s] == ' ' || t.data[s] == '\n'))
        s++;
    while (e > s && (t.data[e - 1] == ' ' || t.data[e - 1] == '\n'))
        e--;
    if (s > 0 && !last_is_space(b))
        put(c, b, " ", 1);
    if (e > s) {
        puts_(c, b, mark);
        put(c, b, t.data + s, e - s);
        puts_(c, b, mark);
    }
    if (e < t.len)
        put(c, b, " ", 1);
    rag_buf_free(&t);
}

/* Raw text of a subtree for code: no collapsing, <br> is a newline. */
static void
raw_text(ctx *c, xmlNode *n, rag_buf *b, int depth)
{
    if (depth >= MAX_DEPTH) {
        for (; n; n = n->next)
            flat_text(c, n, b, 1);
        return;
    }
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            const unsigned char *s = n->content;
            size_t len = s ? strlen((const char *)s) : 0, i = 0, z;
            while (i < len) {
                if ((z = zero_width(s + i, len - i)) != 0) {
                    i += z;
                } else if (s[i] == 0xc2 && i + 1 < len && s[i + 1] == 0xa0) {
                    put(c, b, " ", 1);
                    i += 2;
                } else if (s[i] == '\r') {
                    i++;
                } else {
                    put(c, b, (const char *)s + i, 1);
                    i++;
                }
            }
        } else if (n->type == XML_ELEMENT_NODE) {
            if (tag_is(n, "br")) {
                put(c, b, "\n", 1);
                continue;
            }
            if (tag_is(n, "script") || tag_is(n, "style") ||
                tag_is(n, "button") || has_class_ex(n, "copybtn", 1) ||
                has_class_ex(n, "buttonGroup", 1) || has_class(n, "linenos") ||
                has_class(n, "lineno"))
                continue;
            raw_text(c, n->children, b, depth + 1);
        }
    }
}

static size_t
longest_run(const char *s, size_t n, char ch)
{
    size_t best = 0, cur = 0;

    for (size_t i = 0; i < n; i++) {
        cur = s[i] == ch ? cur + 1 : 0;
        if (cur > best)
            best = cur;
    }
    return best;
}

static void
inline_code(ctx *c, xmlNode *n, rag_buf *b, int depth)
{
    rag_buf raw, t;
    size_t ticks;

    rag_buf_init(&raw, RAG_HTML_MAX_OUTPUT);
    rag_buf_init(&t, RAG_HTML_MAX_OUTPUT);
    raw_text(c, n->children, &raw, depth + 1);
    if (raw.len)
        put_text(c, &t, raw.data, raw.len);
    rtrim(&t);
    size_t s = 0;
    while (s < t.len && t.data[s] == ' ')
        s++;
    if (t.len > s) {
        ticks = longest_run(t.data + s, t.len - s, '`') + 1;
        if (!last_is_space(b) && raw.len && isspace((unsigned char)raw.data[0]))
            put(c, b, " ", 1);
        for (size_t i = 0; i < ticks; i++)
            put(c, b, "`", 1);
        if (t.data[s] == '`' || t.data[t.len - 1] == '`')
            put(c, b, " ", 1);
        put(c, b, t.data + s, t.len - s);
        if (t.data[s] == '`' || t.data[t.len - 1] == '`')
            put(c, b, " ", 1);
        for (size_t i = 0; i < ticks; i++)
            put(c, b, "`", 1);
    }
    rag_buf_free(&raw);
    rag_buf_free(&t);
}

static void
inline_img(ctx *c, xmlNode *n, rag_buf *b)
{
    const char *src = attr(n, "src"), *alt = attr(n, "alt");
    char abs[RAG_URL_MAX];
    rag_buf t;

    if (src == NULL || strncasecmp(src, "data:", 5) == 0 ||
        absolute(c, src, abs, sizeof(abs)) != 0)
        return;
    rag_buf_init(&t, 4096);
    if (alt)
        put_text(c, &t, alt, strlen(alt));
    rtrim(&t);
    if (!last_is_space(b))
        put(c, b, " ", 1);
    puts_(c, b, "![");
    put(c, b, t.data ? t.data : "", t.len);
    puts_(c, b, "](");
    put_url(c, b, abs);
    puts_(c, b, ")");
    rag_buf_free(&t);
}

static void
inline_link(ctx *c, xmlNode *n, rag_buf *b, int depth)
{
    const char *href = attr(n, "href");
    char abs[RAG_URL_MAX];
    rag_buf t;
    size_t s = 0, e;

    if (href == NULL || absolute(c, href, abs, sizeof(abs)) != 0) {
        inline_nodes(c, n->children, b, depth + 1);
        return;
    }
    rag_buf_init(&t, RAG_HTML_MAX_OUTPUT);
    inline_nodes(c, n->children, &t, depth + 1);
    e = t.len;
    while (s < e && (t.data[s] == ' ' || t.data[s] == '\n'))
        s++;
    while (e > s && (t.data[e - 1] == ' ' || t.data[e - 1] == '\n'))
        e--;
    if (e > s) {
        if (s > 0 && !last_is_space(b))
            put(c, b, " ", 1);
        puts_(c, b, "[");
        for (size_t i = s; i < e; i++) {
            char ch = t.data[i] == '\n' ? ' ' : t.data[i];
            if (ch == '[' || ch == ']')
                put(c, b, "\\", 1);
            put(c, b, &ch, 1);
        }
        puts_(c, b, "](");
        put_url(c, b, abs);
        puts_(c, b, ")");
        if (e < t.len)
            put(c, b, " ", 1);
    }
    rag_buf_free(&t);
}

static void
inline_elem(ctx *c, xmlNode *n, rag_buf *b, int depth)
{
    const char *t = (const char *)n->name;

    if (dropped(c, n))
        return;
    if (depth >= MAX_DEPTH) {
        flat_text(c, n, b, 0);
        return;
    }
    if (tag_is(n, "br")) {
        if (c->in_table) {
            if (!last_is_space(b))
                put(c, b, " ", 1);
        } else {
            rtrim(b);
            if (b->len)
                put(c, b, "\n", 1);
        }
    } else if (tag_is(n, "a")) {
        inline_link(c, n, b, depth);
    } else if (tag_is(n, "img")) {
        inline_img(c, n, b);
    } else if (tag_is(n, "strong") || tag_is(n, "b")) {
        wrap_inline(c, n, b, "**", depth);
    } else if (tag_is(n, "em") || tag_is(n, "i") || tag_is(n, "cite")) {
        wrap_inline(c, n, b, "*", depth);
    } else if (tag_is(n, "del") || tag_is(n, "s") || tag_is(n, "strike")) {
        wrap_inline(c, n, b, "~~", depth);
    } else if (tag_is(n, "code") || tag_is(n, "tt") || tag_is(n, "kbd") ||
               tag_is(n, "samp")) {
        inline_code(c, n, b, depth);
    } else if (tag_is(n, "pre")) {
        inline_code(c, n, b, depth);
    } else {
        (void)t;
        if (is_block(n) && !last_is_space(b))
            put(c, b, " ", 1);
        inline_nodes(c, n->children, b, depth + 1);
        if (is_block(n) && !last_is_space(b))
            put(c, b, " ", 1);
    }
}

static void
inline_nodes(ctx *c, xmlNode *n, rag_buf *b, int depth)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                put_text(c, b, (const char *)n->content,
                         strlen((const char *)n->content));
        } else if (n->type == XML_ELEMENT_NODE) {
            inline_elem(c, n, b, depth);
        }
    }
}

/* ---- blocks ----------------------------------------------------------------
 */

static int
is_heading_anchor_id(const char *id)
{
    return id && *id && strlen(id) < 256;
}

static xmlNode *
first_heading(xmlNode *n, int depth)
{
    for (; n && depth < 12; n = n->next) {
        if (heading_level(n))
            return n;
        if (n->type == XML_ELEMENT_NODE) {
            xmlNode *h = first_heading(n->children, depth + 1);
            if (h)
                return h;
        }
    }
    return NULL;
}

/* The real anchor of a heading (see the header comment). */
static const char *
heading_id(xmlNode *h)
{
    const char *id = attr(h, "id"), *href;
    xmlNode *p;
    int up;

    if (is_heading_anchor_id(id))
        return id;
    for (xmlNode *k = h->children; k; k = k->next) {
        if (!tag_is(k, "a"))
            continue;
        if (is_heading_anchor_id(id = attr(k, "id")) ||
            is_heading_anchor_id(id = attr(k, "name")))
            return id;
        href = attr(k, "href");
        if ((has_class(k, "headerlink") || has_class(k, "hash-link") ||
             has_class(k, "anchor")) &&
            href && href[0] == '#' && href[1])
            return href + 1;
    }
    for (p = h->parent, up = 0; p && p->type == XML_ELEMENT_NODE && up < 5;
         p = p->parent, up++) {
        if (tag_is(p, "body") || tag_is(p, "main") || tag_is(p, "article"))
            break;
        id = attr(p, "id");
        if (is_heading_anchor_id(id) && first_heading(p->children, 0) == h)
            return id;
    }
    return NULL;
}

static void
block_heading(ctx *c, xmlNode *n, blk *b, int depth)
{
    int level = heading_level(n);
    const char *id = heading_id(n);
    rag_buf t;

    rag_buf_init(&t, RAG_HTML_MAX_OUTPUT);
    inline_nodes(c, n->children, &t, depth + 1);
    for (size_t i = 0; i < t.len; i++)
        if (t.data[i] == '\n')
            t.data[i] = ' ';
    rtrim(&t);
    blk_flush(c, b);
    if (t.len) {
        rag_buf h;
        size_t s = 0;
        while (s < t.len && t.data[s] == ' ')
            s++;
        rag_buf_init(&h, RAG_HTML_MAX_OUTPUT);
        for (int i = 0; i < level; i++)
            put(c, &h, "#", 1);
        put(c, &h, " ", 1);
        put(c, &h, t.data + s, t.len - s);
        if (id) {
            /* only characters that survive in a {#id} attribute */
            int ok = 1;
            for (const char *q = id; *q; q++)
                if (isspace((unsigned char)*q) || *q == '}' || *q == '{')
                    ok = 0;
            if (ok) {
                puts_(c, &h, " {#");
                puts_(c, &h, id);
                puts_(c, &h, "}");
            }
        }
        blk_add(c, b, h.data, h.len);
        rag_buf_free(&h);
    }
    rag_buf_free(&t);
}

/* Language of a code block from its own, its <code>'s, or up to three
 * ancestors' classes: language-x, lang-x, highlight-x (Sphinx),
 * "sourceCode x" (pandoc), brush: x. */
static int
lang_from_class(const char *cls, char *out, size_t outlen)
{
    const char *p = cls;
    int after_sourcecode = 0;

    while (p && *p) {
        while (isspace((unsigned char)*p))
            p++;
        size_t tl = strcspn(p, " \t\r\n");
        const char *v = NULL;
        size_t vl = 0;
        if (tl > 9 && strncmp(p, "language-", 9) == 0)
            v = p + 9;
        else if (tl > 5 && strncmp(p, "lang-", 5) == 0)
            v = p + 5;
        else if (tl > 10 && strncmp(p, "highlight-", 10) == 0)
            v = p + 10;
        else if (after_sourcecode && tl > 0)
            v = p;
        else if (tl == 6 && strncmp(p, "brush:", 6) == 0) {
            after_sourcecode = 1;
            p += tl;
            continue;
        }
        after_sourcecode = tl == 10 && strncmp(p, "sourceCode", 10) == 0;
        if (v) {
            vl = tl - (size_t)(v - p);
            if (vl && vl < outlen &&
                !(vl == 7 && strncmp(v, "default", 7) == 0) &&
                !(vl == 4 && strncmp(v, "none", 4) == 0)) {
                size_t i;
                /* check the whole token before writing out: a token cut
                 * short ("language-a?b") must leave no unterminated
                 * prefix behind for the caller */
                for (i = 0; i < vl; i++) {
                    char ch = v[i];
                    if (!isalnum((unsigned char)ch) && ch != '+' && ch != '-' &&
                        ch != '_' && ch != '#' && ch != '.')
                        break;
                }
                if (i == vl) {
                    for (i = 0; i < vl; i++)
                        out[i] = (char)tolower((unsigned char)v[i]);
                    out[i] = '\0';
                    return 0;
                }
            }
        }
        p += tl;
    }
    return -1;
}

static void
code_lang(xmlNode *pre, char *out, size_t outlen)
{
    xmlNode *p;
    int up;

    out[0] = '\0';
    for (xmlNode *k = pre->children; k; k = k->next)
        if (tag_is(k, "code") && attr(k, "class") &&
            lang_from_class(attr(k, "class"), out, outlen) == 0)
            return;
    for (p = pre, up = 0; p && p->type == XML_ELEMENT_NODE && up < 4;
         p = p->parent, up++)
        if (attr(p, "class") &&
            lang_from_class(attr(p, "class"), out, outlen) == 0)
            return;
    if (attr(pre, "data-language"))
        snprintf(out, outlen, "%s", attr(pre, "data-language"));
}

static void
block_pre(ctx *c, xmlNode *n, blk *b, int depth)
{
    char lang[32];
    rag_buf raw, f;
    size_t s = 0, e, ticks;

    rag_buf_init(&raw, RAG_HTML_MAX_OUTPUT);
    raw_text(c, n->children, &raw, depth + 1);
    e = raw.len;
    /* blank leading lines and trailing whitespace are layout, not code */
    for (size_t i = 0; i < e; i++) {
        if (raw.data[i] == '\n')
            s = i + 1;
        else if (raw.data[i] != ' ' && raw.data[i] != '\t')
            break;
    }
    while (e > s && isspace((unsigned char)raw.data[e - 1]))
        e--;
    blk_flush(c, b);
    if (e > s) {
        code_lang(n, lang, sizeof(lang));
        ticks = longest_run(raw.data + s, e - s, '`') + 1;
        if (ticks < 3)
            ticks = 3;
        rag_buf_init(&f, RAG_HTML_MAX_OUTPUT);
        for (size_t i = 0; i < ticks; i++)
            put(c, &f, "`", 1);
        puts_(c, &f, lang);
        put(c, &f, "\n", 1);
        /* trailing spaces per line would be invisible noise */
        const char *p = raw.data + s, *end = raw.data + e;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            const char *te = le;
            while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
                te--;
            put(c, &f, p, (size_t)(te - p));
            put(c, &f, "\n", 1);
            p = nl ? nl + 1 : end;
        }
        for (size_t i = 0; i < ticks; i++)
            put(c, &f, "`", 1);
        /* blk_add trims leading spaces, which would break indented first
         * lines only outside the fence: the fence starts with ``` */
        if (b->out.len)
            put(c, &b->out, "\n\n", 2);
        put(c, &b->out, f.data, f.len);
        rag_buf_free(&f);
    }
    rag_buf_free(&raw);
}

typedef struct {
    char **cells;
    size_t n;
} row_t;

static void
cell_text(ctx *c, xmlNode *cell, rag_buf *t, int depth)
{
    int saved = c->in_table;

    c->in_table = 1;
    inline_nodes(c, cell->children, t, depth + 1);
    c->in_table = saved;
    for (size_t i = 0; i < t->len; i++)
        if (t->data[i] == '\n')
            t->data[i] = ' ';
    rtrim(t);
}

static int
collect_rows(ctx *c, xmlNode *n, row_t **rows, size_t *nrows, size_t *cap,
             int *nhead, int in_head, int depth)
{
    for (; n && depth < 8; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (tag_is(n, "thead") || tag_is(n, "tbody") || tag_is(n, "tfoot")) {
            if (collect_rows(c, n->children, rows, nrows, cap, nhead,
                             tag_is(n, "thead"), depth + 1) != 0)
                return -1;
        } else if (tag_is(n, "tr")) {
            row_t r = {NULL, 0};
            size_t rc = 0;
            for (xmlNode *k = n->children; k; k = k->next) {
                if (!tag_is(k, "td") && !tag_is(k, "th"))
                    continue;
                const char *cs = attr(k, "colspan");
                long span = cs ? strtol(cs, NULL, 10) : 1;
                if (span < 1 || span > 50)
                    span = 1;
                for (long s = 0; s < span; s++) {
                    rag_buf t;
                    if (r.n == rc) {
                        size_t nc = rc ? rc * 2 : 8;
                        char **v = realloc(r.cells, nc * sizeof(*v));
                        if (!v)
                            return -1;
                        r.cells = v;
                        rc = nc;
                    }
                    rag_buf_init(&t, RAG_HTML_MAX_OUTPUT);
                    if (s == 0)
                        cell_text(c, k, &t, depth);
                    r.cells[r.n++] = rag_buf_detach(&t);
                }
            }
            if (*nrows == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                row_t *v = realloc(*rows, nc * sizeof(*v));
                if (!v) {
                    for (size_t i = 0; i < r.n; i++)
                        free(r.cells[i]);
                    free(r.cells);
                    return -1;
                }
                *rows = v;
                *cap = nc;
            }
            (*rows)[(*nrows)++] = r;
            if (in_head)
                (*nhead)++;
        }
    }
    return 0;
}

static void
put_cell(ctx *c, rag_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            put(c, b, "\\|", 2);
        else
            put(c, b, s, 1);
    }
}

static void
block_table(ctx *c, xmlNode *n, blk *b, int depth)
{
    row_t *rows = NULL;
    size_t nrows = 0, cap = 0, ncols = 0;
    int nhead = 0;
    rag_buf t;

    blk_flush(c, b);
    for (xmlNode *k = n->children; k; k = k->next)
        if (tag_is(k, "caption")) {
            rag_buf cap_t;
            rag_buf_init(&cap_t, RAG_HTML_MAX_OUTPUT);
            inline_nodes(c, k->children, &cap_t, depth + 1);
            rtrim(&cap_t);
            if (cap_t.len)
                blk_add(c, b, cap_t.data, cap_t.len);
            rag_buf_free(&cap_t);
        }
    if (collect_rows(c, n->children, &rows, &nrows, &cap, &nhead, 0, depth) !=
        0)
        c->oom = 1;
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].n > ncols)
            ncols = rows[i].n;
    if (nrows && ncols) {
        rag_buf_init(&t, RAG_HTML_MAX_OUTPUT);
        for (size_t i = 0; i < nrows; i++) {
            puts_(c, &t, "|");
            for (size_t j = 0; j < ncols; j++) {
                put(c, &t, " ", 1);
                put_cell(c, &t, j < rows[i].n ? rows[i].cells[j] : "");
                puts_(c, &t, " |");
            }
            put(c, &t, "\n", 1);
            if (i == 0) {
                puts_(c, &t, "|");
                for (size_t j = 0; j < ncols; j++)
                    puts_(c, &t, "---|");
                put(c, &t, "\n", 1);
            }
        }
        blk_add(c, b, t.data, t.len);
        rag_buf_free(&t);
    }
    (void)nhead;
    for (size_t i = 0; i < nrows; i++) {
        for (size_t j = 0; j < rows[i].n; j++)
            free(rows[i].cells[j]);
        free(rows[i].cells);
    }
    free(rows);
}

static void
block_list(ctx *c, xmlNode *n, blk *b, int depth)
{
    int ordered = tag_is(n, "ol");
    const char *st = attr(n, "start");
    long num = st ? strtol(st, NULL, 10) : 1;
    rag_buf out;
    char marker[32], indent[32];

    blk_flush(c, b);
    rag_buf_init(&out, RAG_HTML_MAX_OUTPUT);
    for (xmlNode *k = n->children; k; k = k->next) {
        blk item;
        const char *v;
        if (!tag_is(k, "li")) {
            if (tag_is(k, "ul") || tag_is(k, "ol")) {
                /* sloppy HTML: a list directly inside a list */
                blk inner;
                blk_init(&inner);
                block_list(c, k, &inner, depth + 1);
                put_prefixed(c, &out, blk_text(c, &inner), "  ", "  ");
                put(c, &out, "\n", 1);
                blk_free(&inner);
            }
            continue;
        }
        if (ordered && (v = attr(k, "value")) != NULL)
            num = strtol(v, NULL, 10);
        if (ordered)
            snprintf(marker, sizeof(marker), "%ld. ", num++);
        else
            snprintf(marker, sizeof(marker), "- ");
        memset(indent, ' ', strlen(marker));
        indent[strlen(marker)] = '\0';
        blk_init(&item);
        block_nodes(c, k->children, &item, depth + 1);
        const char *txt = blk_text(c, &item);
        put_prefixed(c, &out, *txt ? txt : "", marker, indent);
        put(c, &out, "\n", 1);
        blk_free(&item);
    }
    blk_add(c, b, out.data ? out.data : "", out.len);
    rag_buf_free(&out);
}

static const char *const adm_kinds[] = {
    "note", "tip",  "warning",   "caution", "important", "danger",
    "info", "hint", "attention", "error",   "seealso",   NULL};

static xmlNode *adm_title_node(xmlNode *n);

static int
is_admonition(xmlNode *n)
{
    if (n->type != XML_ELEMENT_NODE || !attr(n, "class"))
        return 0;
    if (has_class(n, "theme-admonition"))
        return 1;
    if (has_class(n, "admonition")) {
        /* MkDocs also styles plain blocks ("admonition block") */
        if (adm_title_node(n) || has_class(n, "alert"))
            return 1;
        for (int i = 0; adm_kinds[i]; i++)
            if (has_class(n, adm_kinds[i]))
                return 1;
        return 0;
    }
    /* DocBook (PostgreSQL): <div class="note"> with an h3.title */
    if (tag_is(n, "div") || tag_is(n, "aside"))
        for (int i = 0; adm_kinds[i]; i++)
            if (strcmp(attr(n, "class"), adm_kinds[i]) == 0)
                return 1;
    return 0;
}

static xmlNode *
adm_title_node(xmlNode *n)
{
    for (xmlNode *k = n->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (has_class(k, "admonition-title") ||
            has_class_ex(k, "admonitionHeading", 1) ||
            (heading_level(k) && has_class(k, "title")) ||
            (tag_is(k, "summary")))
            return k;
    }
    return NULL;
}

/* 1 when a and b have the same letters, case and the rest ignored
 * ("seealso" and "See also"). */
int
rag_html_same_letters(const char *a, const char *b)
{
    for (;;) {
        while (*a && !isalpha((unsigned char)*a))
            a++;
        while (*b && !isalpha((unsigned char)*b))
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
        a++;
        b++;
    }
}

static void
block_admonition(ctx *c, xmlNode *n, blk *b, int depth)
{
    xmlNode *tn = adm_title_node(n), *saved = c->skip;
    rag_buf title, out;
    blk body;
    char kind[32] = "";
    int titled = 0;

    blk_flush(c, b);
    rag_buf_init(&title, 1024);
    rag_buf_init(&out, RAG_HTML_MAX_OUTPUT);
    if (tn) {
        text_of(c, tn->children, &title, depth + 1);
        rtrim(&title);
    }
    for (int i = 0; adm_kinds[i] && !kind[0]; i++) {
        char a[48], t2[48];
        snprintf(a, sizeof(a), "admonition-%s", adm_kinds[i]);
        snprintf(t2, sizeof(t2), "theme-admonition-%s", adm_kinds[i]);
        if (has_class(n, adm_kinds[i]) || has_class(n, a) || has_class(n, t2))
            snprintf(kind, sizeof(kind), "%s", adm_kinds[i]);
    }
    if (kind[0])
        kind[0] = (char)toupper((unsigned char)kind[0]);
    if (title.len == 0) {
        puts_(c, &title, kind[0] ? kind : "Note");
    } else {
        size_t s = 0;
        while (s < title.len && title.data[s] == ' ')
            s++;
        if (s) {
            memmove(title.data, title.data + s, title.len - s + 1);
            title.len -= s;
        }
        /* Docusaurus writes "note" lowercase and styles it uppercase */
        title.data[0] = (char)toupper((unsigned char)title.data[0]);
        if (title.len && title.data[title.len - 1] == ':')
            title.data[--title.len] = '\0';
        /* a custom title ("Back up first") must not hide the kind */
        if (kind[0] && !rag_html_same_letters(kind, title.data)) {
            rag_buf kt;
            rag_buf_init(&kt, 1024 + 64);
            puts_(c, &kt, kind);
            puts_(c, &kt, ": ");
            put(c, &kt, title.data, title.len);
            rag_buf_reset(&title);
            put(c, &title, kt.data, kt.len);
            rag_buf_free(&kt);
            titled = 1;
        }
    }
    blk_init(&body);
    c->skip = tn;
    block_nodes(c, n->children, &body, depth + 1);
    c->skip = saved;
    const char *txt = blk_text(c, &body);
    int sub = 0;
    for (xmlNode *k = n->children; k && !sub; k = k->next)
        if (k != tn && k->type == XML_ELEMENT_NODE &&
            (heading_level(k) || first_heading(k->children, 1)))
            sub = 1;
    if (sub) {
        /* a block with sub-headings: keep them headings (a quote would
         * hide them from the chunker), title as a bold line */
        puts_(c, &out, "**");
        put(c, &out, title.data, title.len);
        puts_(c, &out, ":**\n\n");
        puts_(c, &out, txt);
        blk_add(c, b, out.data, out.len);
        goto done;
    }
    puts_(c, &out, "> **");
    put(c, &out, title.data, title.len);
    if (titled) {
        /* "Warning: Back up first" reads as a heading line */
        puts_(c, &out, "**");
        if (*txt) {
            puts_(c, &out, "\n>\n");
            put_prefixed(c, &out, txt, "> ", "> ");
        }
    } else {
        puts_(c, &out, *txt ? ":** " : "**");
        if (*txt)
            put_prefixed(c, &out, txt, "", "> ");
    }
    blk_add(c, b, out.data, out.len);
done:
    blk_free(&body);
    rag_buf_free(&title);
    rag_buf_free(&out);
}

static void
block_quote(ctx *c, xmlNode *n, blk *b, int depth)
{
    blk body;
    rag_buf out;

    blk_flush(c, b);
    blk_init(&body);
    rag_buf_init(&out, RAG_HTML_MAX_OUTPUT);
    block_nodes(c, n->children, &body, depth + 1);
    const char *txt = blk_text(c, &body);
    if (*txt) {
        put_prefixed(c, &out, txt, "> ", "> ");
        blk_add(c, b, out.data, out.len);
    }
    blk_free(&body);
    rag_buf_free(&out);
}

static void
tabs_clear(ctx *c)
{
    for (int i = 0; i < c->ntabs; i++)
        free(c->tabs[i]);
    c->ntabs = c->next_tab = 0;
}

/* A tablist (WAI-ARIA, as Docusaurus' <Tabs> renders it) is not content:
 * its tabs' labels head the tab panels that follow. */
static void
tabs_collect(ctx *c, xmlNode *list)
{
    tabs_clear(c);
    for (xmlNode *n = list->children; n && c->ntabs < MAX_TABS;
         n = walk_next(n, list, 0)) {
        const char *role = n->type == XML_ELEMENT_NODE ? attr(n, "role") : NULL;
        rag_buf t;
        if (!role || strcmp(role, "tab") != 0)
            continue;
        rag_buf_init(&t, 1024);
        text_of(c, n->children, &t, 0);
        rtrim(&t);
        c->tabs[c->ntabs++] = rag_buf_detach(&t);
        if (c->tabs[c->ntabs - 1] == NULL)
            c->ntabs--;
    }
}

/* Every panel is indexed, hidden ones too, under its tab's label. */
static void
block_tabpanel(ctx *c, xmlNode *n, blk *b, int depth)
{
    blk_flush(c, b);
    if (c->next_tab < c->ntabs) {
        const char *l = c->tabs[c->next_tab++];
        size_t s = 0;
        while (l[s] == ' ')
            s++;
        if (l[s]) {
            rag_buf t;
            rag_buf_init(&t, 1100);
            puts_(c, &t, "**");
            puts_(c, &t, l + s);
            puts_(c, &t, ":**");
            blk_add(c, b, t.data, t.len);
            rag_buf_free(&t);
        }
    }
    block_nodes(c, n->children, b, depth + 1);
    blk_flush(c, b);
}

static void
block_elem(ctx *c, xmlNode *n, blk *b, int depth)
{
    const char *src;
    const char *role = attr(n, "role");

    if (role && strcmp(role, "tablist") == 0) {
        blk_flush(c, b);
        tabs_collect(c, n);
        return;
    }
    if (role && strcmp(role, "tabpanel") == 0) {
        block_tabpanel(c, n, b, depth);
        return;
    }

    if (heading_level(n)) {
        block_heading(c, n, b, depth);
    } else if (tag_is(n, "pre")) {
        block_pre(c, n, b, depth);
    } else if (tag_is(n, "table")) {
        block_table(c, n, b, depth);
    } else if (tag_is(n, "ul") || tag_is(n, "ol") || tag_is(n, "menu")) {
        block_list(c, n, b, depth);
    } else if (tag_is(n, "blockquote")) {
        block_quote(c, n, b, depth);
    } else if (is_admonition(n)) {
        block_admonition(c, n, b, depth);
    } else if (tag_is(n, "hr")) {
        blk_flush(c, b);
        blk_add(c, b, "---", 3);
    } else if (tag_is(n, "dt") || tag_is(n, "summary")) {
        rag_buf t;
        blk_flush(c, b);
        rag_buf_init(&t, RAG_HTML_MAX_OUTPUT);
        wrap_inline(c, n, &t, "**", depth);
        rtrim(&t);
        if (t.len)
            blk_add(c, b, t.data, t.len);
        rag_buf_free(&t);
    } else if (tag_is(n, "iframe")) {
        char abs[RAG_URL_MAX];
        blk_flush(c, b);
        if ((src = attr(n, "src")) && absolute(c, src, abs, sizeof(abs)) == 0) {
            rag_buf t;
            rag_buf_init(&t, RAG_URL_MAX + 64);
            puts_(c, &t, "Embedded content: [View content](");
            put_url(c, &t, abs);
            puts_(c, &t, ")");
            blk_add(c, b, t.data, t.len);
            rag_buf_free(&t);
        }
    } else {
        /* p, div, section, li outside lists, ...: a block boundary */
        blk_flush(c, b);
        block_nodes(c, n->children, b, depth + 1);
        blk_flush(c, b);
    }
}

static void
block_nodes(ctx *c, xmlNode *n, blk *b, int depth)
{
    for (; n; n = n->next) {
        if (c->oom)
            return;
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                put_text(c, &b->para, (const char *)n->content,
                         strlen((const char *)n->content));
        } else if (n->type == XML_ELEMENT_NODE) {
            if (dropped(c, n))
                continue;
            if (depth >= MAX_DEPTH) {
                if (!last_is_space(&b->para))
                    put(c, &b->para, " ", 1);
                flat_text(c, n, &b->para, 0);
            } else if (is_block(n) || is_admonition(n))
                block_elem(c, n, b, depth);
            else
                inline_elem(c, n, &b->para, depth);
        }
        if (n == c->last)
            break;
    }
}

/* ---- driver ---------------------------------------------------------------
 */

static xmlNode *
find_tag(xmlNode *n, const char *tag, int depth)
{
    for (; n && depth < MAX_DEPTH; n = n->next) {
        if (tag_is(n, tag))
            return n;
        if (n->type == XML_ELEMENT_NODE) {
            xmlNode *r = find_tag(n->children, tag, depth + 1);
            if (r)
                return r;
        }
    }
    return NULL;
}

/* ---- main content ----------------------------------------------------------
 *
 * Without a selector the page's main content is found by text density
 * (readability-style), not by per-site rules: every element is weighed
 * by the visible text below it (page chrome that dropped() removes
 * weighs nothing; link text weighs half, so menus and link lists count
 * less than prose). From <body> down, the walk enters the one child
 * holding at least MAIN_SHARE of the page's weight, as long as that
 * child also holds the page's title heading (the first <h1> that is not
 * just a link home, else the first <h2>): the deepest such element is
 * the content. When the weight sits in a sibling of the title (asciidoc
 * puts the <h1> in div#header and the text in div#content), the content
 * is the run of siblings from the title's to the heavy one, so trailing
 * footers stay out.
 */

#define MAIN_SHARE 85 /* percent */

static size_t
weight_of(xmlNode *n)
{
    return (size_t)(uintptr_t)n->_private;
}

static size_t
weigh(ctx *c, xmlNode *n, int depth, int in_link)
{
    size_t w = 0;

    for (xmlNode *k = n->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) {
            size_t t = 0;
            for (const unsigned char *p = k->content; p && *p; p++)
                if (!isspace(*p))
                    t++;
            w += in_link ? t / 2 : t;
        } else if (k->type == XML_ELEMENT_NODE) {
            size_t kw = 0;
            if (depth < MAX_DEPTH && !dropped(c, k))
                kw = weigh(c, k, depth + 1, in_link || tag_is(k, "a"));
            k->_private = (void *)(uintptr_t)kw;
            w += kw;
        }
    }
    return w;
}

/* 1 when heading h is only a link elsewhere (a site name linking home). */
static int
heading_is_link(ctx *c, xmlNode *h)
{
    rag_buf all, in;
    int r = 0;

    rag_buf_init(&all, 4096);
    rag_buf_init(&in, 4096);
    text_of(c, h->children, &all, 0);
    for (xmlNode *n = h->children; n; n = walk_next(n, h, 0))
        if (tag_is(n, "a") && attr(n, "href"))
            text_of(c, n->children, &in, 0);
    rtrim(&all);
    rtrim(&in);
    r = all.len > 0 && in.len * 10 >= all.len * 9;
    rag_buf_free(&all);
    rag_buf_free(&in);
    return r;
}

static xmlNode *
title_heading(ctx *c, xmlNode *body)
{
    for (int level = 1; level <= 2; level++) {
        for (xmlNode *n = body->children; n;) {
            int skip = n->type == XML_ELEMENT_NODE && dropped(c, n);
            if (!skip && heading_level(n) == level && !heading_is_link(c, n))
                return n;
            n = walk_next(n, body, skip || heading_level(n));
        }
    }
    return NULL;
}

static int
contains(xmlNode *outer, xmlNode *n)
{
    for (; n; n = n->parent)
        if (n == outer)
            return 1;
    return 0;
}

/* The main content: its container, and the first and last of the
 * container's children to render (NULL, NULL: all of them). */
static xmlNode *
main_content(ctx *c, xmlNode *root, xmlNode *h, xmlNode **first, xmlNode **last)
{
    xmlNode *body = find_tag(root, "body", 0), *cur;
    size_t total;

    *first = *last = NULL;
    if (body == NULL)
        body = root;
    total = weigh(c, body, 0, 0);
    cur = body;
    for (int depth = 0; total > 0 && depth < MAX_DEPTH; depth++) {
        xmlNode *heavy = NULL;
        for (xmlNode *k = cur->children; k; k = k->next)
            if (k->type == XML_ELEMENT_NODE &&
                weight_of(k) * 100 >= total * MAIN_SHARE)
                heavy = k;
        /* only plain containers: a table, list or admonition is rendered
         * as a whole */
        if (heavy == NULL || is_admonition(heavy) ||
            !(tag_is(heavy, "div") || tag_is(heavy, "section") ||
              tag_is(heavy, "article") || tag_is(heavy, "main") ||
              tag_is(heavy, "center")))
            break;
        if (h && !contains(heavy, h)) {
            /* the title sits in a sibling before the content */
            xmlNode *th = h;
            while (th->parent != cur)
                th = th->parent;
            for (xmlNode *k = th; k; k = k->next)
                if (k == heavy) {
                    *first = th;
                    *last = heavy;
                    break;
                }
            break;
        }
        cur = heavy;
    }
    return cur;
}

/* The page's <link rel="canonical">, absolute, into out ("" if none). */
static void
canonical_link(ctx *c, xmlNode *root, char *out, size_t outlen)
{
    out[0] = '\0';
    for (xmlNode *n = root; n; n = walk_next(n, root, tag_is(n, "body"))) {
        const char *rel, *href;
        if (tag_is(n, "link") && (rel = attr(n, "rel")) &&
            strcasecmp(rel, "canonical") == 0 && (href = attr(n, "href")) &&
            rag_url_resolve(c->base, href, 0, out, outlen) == 0)
            return;
        out[0] = '\0';
    }
}

/* 1 for a page that lists other pages' teasers: Docusaurus' blog list,
 * tag and author pages (their theme's page classes), or any page whose
 * main content holds two or more <article>s with a linked heading. */
static int
is_listing(ctx *c, xmlNode *root, xmlNode *main_el)
{
    static const char *const page_classes[] = {"blog-list-page",
                                               "blog-tags-list-page",
                                               "blog-tags-post-list-page",
                                               "blog-authors-list-page",
                                               "blog-authors-posts-page",
                                               "blog-archive-page",
                                               NULL};
    int teasers = 0, blog = 0, post = 0;

    for (xmlNode *n = root; n; n = walk_next(n, root, 0)) {
        if (n->type != XML_ELEMENT_NODE || !attr(n, "class"))
            continue;
        for (int i = 0; page_classes[i]; i++)
            if (has_class(n, page_classes[i]))
                return 1;
        blog |= has_class(n, "plugin-blog");
        post |= has_class(n, "blog-post-page");
    }
    /* the blog plugin's pages are posts or lists of them (the archive
     * has no page class of its own) */
    if (blog && !post)
        return 1;
    for (xmlNode *n = main_el; n; n = walk_next(n, main_el, 0)) {
        xmlNode *h;
        if (!tag_is(n, "article"))
            continue;
        if ((h = first_heading(n->children, 0)) &&
            find_tag(h->children, "a", 0))
            teasers++;
    }
    return teasers >= 2;
}

/* A table of contents: the main content is mostly the text of links
 * (Sphinx's contents.html and toctree pages, PostgreSQL's part and
 * chapter pages: a heading, a paragraph or two, nested lists of links).
 * Thresholds from the six corpora of t/65, link text as a share of the
 * main content's characters: tables of contents 64-100 %; content pages
 * with the most links keep more text outside them (Python's
 * tutorial/index.html 69 % but 1,564 characters of prose, email.html
 * 62 % / 4,046, c-api/stable.html 62 % / 8,596; git.html's command list
 * with descriptions 10 %, sql-commands.html 30 %). Only links within
 * the site count. A menu of a few
 * links is too short to judge. */
#define TOC_MIN_LINKS 10
#define TOC_SHARE 75       /* percent: a table of contents at any size */
#define TOC_SHARE_SHORT 60 /* percent, with at most ... */
#define TOC_PROSE_MAX 1200 /* characters outside links */

typedef struct {
    size_t text, in_link, links;
} toc_count;

/* Adds node n's subtree to t. */
static void
toc_measure(ctx *c, xmlNode *n, toc_count *t, int in_link, int depth)
{
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        size_t k = 0;
        for (const unsigned char *p = n->content; p && *p; p++)
            if (!isspace(*p) && (*p & 0xC0) != 0x80) /* characters */
                k++;
        t->text += k;
        if (in_link)
            t->in_link += k;
    } else if (n->type == XML_ELEMENT_NODE && depth < MAX_DEPTH &&
               !dropped(c, n) && !tag_is(n, "script") && !tag_is(n, "style") &&
               !has_class(n, "headerlink") && !has_class(n, "hash-link")) {
        char u[RAG_URL_MAX];
        /* only links into the site: a glossary whose terms link out
         * (PostgreSQL's acronyms.html) is content */
        int a =
            !in_link && tag_is(n, "a") && attr(n, "href") &&
            rag_url_resolve(c->base, attr(n, "href"), 0, u, sizeof(u)) == 0 &&
            rag_url_same_site(u, c->base);
        if (a)
            t->links++;
        for (xmlNode *k = n->children; k; k = k->next)
            toc_measure(c, k, t, in_link || a, depth + 1);
    }
}

/* 1 when the main content (main_el's children first..last, all of them
 * when first is NULL) is a table of contents. */
static int
is_toc(ctx *c, xmlNode *main_el, xmlNode *first, xmlNode *last,
       rag_html_doc *out)
{
    toc_count t = {0, 0, 0};

    for (xmlNode *n = first ? first : main_el->children; n; n = n->next) {
        toc_measure(c, n, &t, 0, 0);
        if (n == last)
            break;
    }
    out->main_chars = t.text;
    out->main_link_chars = t.in_link;
    out->main_links = t.links;
    return t.links >= TOC_MIN_LINKS &&
           (t.in_link * 100 >= t.text * TOC_SHARE ||
            (t.in_link * 100 >= t.text * TOC_SHARE_SHORT &&
             t.text - t.in_link <= TOC_PROSE_MAX));
}

/* A <title> is often "Page — Site" or "Site | Page": when the page's
 * title heading is one side of a separator, the title is the heading
 * (the site name would repeat in every breadcrumb and source). */
static const char *const title_seps[] = {" | ",  " — ", " – ", " - ", " · ",
                                         " :: ", " » ", " « ", " / ", NULL};

/* keep (1) or drop (0) the part of the title on one side of a separator
 * that equals name[0..nl): "Page - Site" with name "Site" -> "Page". */
static int
title_minus(ctx *c, rag_buf *title, const char *name, size_t nl, int keep)
{
    const char *tt = title->data;
    size_t tl = title->len;

    for (int i = 0; nl && title_seps[i]; i++) {
        size_t sl = strlen(title_seps[i]);
        if (tl <= nl + sl)
            continue;
        if (strncmp(tt, name, nl) == 0 &&
            strncmp(tt + nl, title_seps[i], sl) == 0) {
            rag_buf t;
            rag_buf_init(&t, 0);
            if (keep)
                put(c, &t, tt, nl);
            else
                put(c, &t, tt + nl + sl, tl - nl - sl);
            rag_buf_reset(title);
            put(c, title, t.data ? t.data : "", t.len);
            rag_buf_free(&t);
            return 1;
        }
        if (strncmp(tt + tl - nl, name, nl) == 0 &&
            strncmp(tt + tl - nl - sl, title_seps[i], sl) == 0) {
            if (keep) {
                memmove(title->data, tt + tl - nl, nl);
                title->len = nl;
            } else {
                title->len = tl - nl - sl;
            }
            title->data[title->len] = '\0';
            return 1;
        }
    }
    return 0;
}

/* A <title> is "Page — Site" or "Site | Page". The page part is the
 * title heading's text when that is one side of a separator; else the
 * site part is the text of a link home (the navbar brand: any link to
 * the site root or a folder above the page) on the other side. */
static void
strip_site_name(ctx *c, rag_buf *title, xmlNode *h, xmlNode *root,
                const char *page)
{
    rag_buf t;
    size_t s = 0;
    int done = 0;

    if (title->len == 0)
        return;
    rag_buf_init(&t, 4096);
    if (h) {
        text_of(c, h->children, &t, 0);
        rtrim(&t);
        while (s < t.len && t.data[s] == ' ')
            s++;
        done = title_minus(c, title, t.data + s, t.len - s, 1);
    }
    for (xmlNode *n = root; n && !done; n = walk_next(n, root, 0)) {
        const char *href;
        char abs[RAG_URL_MAX];
        size_t al;
        if (!tag_is(n, "a") || !(href = attr(n, "href")) ||
            rag_url_resolve(c->base, href, 0, abs, sizeof(abs)) != 0)
            continue;
        al = strlen(abs);
        if (al >= 11 && strcmp(abs + al - 11, "/index.html") == 0)
            al -= 10;
        if (al == 0 || abs[al - 1] != '/' || strncmp(page, abs, al) != 0)
            continue; /* not a folder above this page */
        rag_buf_reset(&t);
        text_of(c, n->children, &t, 0);
        rtrim(&t);
        for (s = 0; s < t.len && t.data[s] == ' '; s++)
            ;
        if (t.len > s && t.len - s < 80)
            done = title_minus(c, title, t.data + s, t.len - s, 0);
    }
    rag_buf_free(&t);
}

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static int
strvec_has(const strvec *s, const char *u)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], u) == 0)
            return 1;
    return 0;
}

static void
collect_links(ctx *c, xmlNode *root, strvec *s)
{
    for (xmlNode *n = root; n && s->n < RAG_HTML_MAX_LINKS;
         n = walk_next(n, root, 0)) {
        const char *href, *rel;
        char abs[RAG_URL_MAX];

        if (!tag_is(n, "a"))
            continue;
        href = attr(n, "href");
        rel = attr(n, "rel");
        if (href && !(rel && strstr(rel, "nofollow")) &&
            rag_url_resolve(c->base, href, 0, abs, sizeof(abs)) == 0 &&
            !strvec_has(s, abs)) {
            if (s->n == s->cap) {
                size_t nc = s->cap ? s->cap * 2 : 64;
                char **v = realloc(s->v, nc * sizeof(*v));
                if (!v) {
                    c->oom = 1;
                    return;
                }
                s->v = v;
                s->cap = nc;
            }
            if ((s->v[s->n] = strdup(abs)) == NULL) {
                c->oom = 1;
                return;
            }
            s->n++;
        }
    }
}

void
rag_html_doc_free(rag_html_doc *d)
{
    if (d == NULL)
        return;
    free(d->title);
    free(d->markdown);
    free(d->canonical);
    for (size_t i = 0; i < d->nlinks; i++)
        free(d->links[i]);
    free(d->links);
    memset(d, 0, sizeof(*d));
}

int
rag_html_convert(const char *html, size_t len, const char *page_url,
                 const char *selector, const char *http_charset,
                 rag_html_doc *out, char *err, size_t errlen)
{
    htmlDocPtr doc = NULL;
    xmlNode *root, *main_el = NULL, *first = NULL, *th, *t;
    sel_list sl;
    ctx c;
    blk b;
    rag_buf title, u8;
    strvec links = {NULL, 0, 0};
    char base[RAG_URL_MAX];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    blk_init(&b);
    rag_buf_init(&title, 4096);
    rag_buf_init(&u8, RAG_HTML_MAX_INPUT * 3 + 16);
    if (len > RAG_HTML_MAX_INPUT || len > (size_t)0x7fffffff) {
        snprintf(err, errlen, "page too large (%zu bytes)", len);
        goto done;
    }
    if (selector && *selector && sel_parse(selector, &sl) != 0) {
        snprintf(err, errlen, "bad selector");
        goto done;
    }
    if (rag_url_normalize(page_url, base, sizeof(base)) != 0) {
        snprintf(err, errlen, "bad page url");
        goto done;
    }
    /* libxml2 gets valid UTF-8 only: its own charset handling fails on
     * bad bytes, and Postgres refuses invalid UTF-8 */
    if ((out->replaced =
             rag_charset_decode_html(html, len, http_charset, &u8, out->charset,
                                     sizeof(out->charset))) < 0 ||
        u8.len > (size_t)0x7fffffff) {
        snprintf(err, errlen, "page too large once decoded");
        goto done;
    }
    /* HUGE lifts libxml2's nesting limit (256), past which it stops
     * parsing and the rest of the page is lost; our own walks are
     * bounded by MAX_DEPTH and flatten what is deeper */
    doc = htmlReadMemory(u8.data ? u8.data : "", (int)u8.len, page_url, "UTF-8",
                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                             HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                             HTML_PARSE_IGNORE_ENC | XML_PARSE_HUGE);
    if (doc == NULL || (root = xmlDocGetRootElement(doc)) == NULL) {
        snprintf(err, errlen, "unparsable HTML");
        goto done;
    }
    /* <base href> changes what relative links mean */
    if ((t = find_tag(root, "base", 0)) && attr(t, "href")) {
        char nb[RAG_URL_MAX];
        if (rag_url_resolve(page_url, attr(t, "href"), 0, nb, sizeof(nb)) == 0)
            snprintf(base, sizeof(base), "%s", nb);
    }
    c.base = base;
    if ((t = find_tag(root, "title", 0)))
        text_of(&c, t->children, &title, 0);
    if (selector && *selector) {
        for (int i = 0; i < sl.n && main_el == NULL; i++)
            main_el = sel_find(root, &sl.s[i], 0);
        if (main_el == NULL)
            main_el = root;
    }
    th = title_heading(&c, root);
    if (main_el == NULL)
        main_el = main_content(&c, root, th, &first, &c.last);
    rtrim(&title);
    {
        size_t s = 0;
        while (s < title.len && title.data[s] == ' ')
            s++;
        if (s) {
            memmove(title.data, title.data + s, title.len - s + 1);
            title.len -= s;
        }
    }
    strip_site_name(&c, &title, th, root, base);
    if (title.len == 0 && (t = find_tag(main_el, "h1", 0))) {
        rag_buf_reset(&title);
        text_of(&c, t->children, &title, 0);
        rtrim(&title);
    }
    {
        char canon[RAG_URL_MAX];
        canonical_link(&c, root, canon, sizeof(canon));
        if ((out->canonical = strdup(canon)) == NULL) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
    }
    out->listing = is_listing(&c, root, main_el);
    out->toc = !out->listing && is_toc(&c, main_el, first, c.last, out);
    block_nodes(&c, first ? first : main_el->children, &b, 0);
    c.last = NULL;
    tabs_clear(&c);
    blk_flush(&c, &b);
    collect_links(&c, root, &links);
    if (c.oom) {
        snprintf(err, errlen, "output limit or out of memory");
        goto done;
    }
    {
        size_t s = 0;
        while (s < title.len && title.data[s] == ' ')
            s++;
        out->title = strdup(title.data ? title.data + s : "");
    }
    out->flattened = c.flattened;
    if (b.out.len)
        rag_buf_putc(&b.out, '\n');
    out->markdown_len = b.out.len;
    out->markdown = rag_buf_detach(&b.out);
    out->links = links.v;
    out->nlinks = links.n;
    links.v = NULL;
    links.n = 0;
    if (out->title == NULL || out->markdown == NULL) {
        snprintf(err, errlen, "out of memory");
        rag_html_doc_free(out);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        rag_html_doc_free(out);
    for (size_t i = 0; i < links.n; i++)
        free(links.v[i]);
    free(links.v);
    if (doc)
        xmlFreeDoc(doc);
    blk_free(&b);
    rag_buf_free(&title);
    rag_buf_free(&u8);
    return rc;
}
