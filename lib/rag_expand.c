/*
 * rag_expand — index pages -> (term, target URL) pairs. See rag_expand.h.
 *
 * Recognising an index page, by structure only (no file names, classes
 * or site rules):
 *   - entries: li and dt elements with at least one link (<a href>)
 *     outside their nested lists: at least RAG_EXPAND_MIN_ENTRIES;
 *   - the text inside li/dt elements is at least half the body's text
 *     (an index is its entries; an article with a link list is not);
 *   - the top-level entries' terms are in alphabetical order: compared
 *     by their first two letters, lower-cased, at least 80 %
 *     of neighbouring pairs are in order (letters only: numbering is
 *     skipped). This is what an index is (a
 *     table of contents or a navigation list follows the manual's
 *     order, which is not alphabetical: PostgreSQL's "What Is
 *     PostgreSQL?", "A Brief History", "Conventions" ...).
 *
 * An entry's term is its own text outside links and nested lists
 * ("advisory lock, <a>Advisory Locks</a>" -> "advisory lock"), or, when
 * it has none, its first link's text (Sphinx: "<li><a>ABCMeta (class in
 * abc)</a></li>"). A sub-entry's term is prefixed by its parent's: the
 * parent of an li is the nearest enclosing li; of a dt, the dt before
 * the dd its list is in (DocBook's dt/dd/dl/dt).
 */
#include "rag_expand.h"

#include "rag_url.h"

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
is_el(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE &&
           xmlStrcasecmp(n->name, (const xmlChar *)name) == 0;
}

static int
is_entry(const xmlNode *n)
{
    return is_el(n, "li") || is_el(n, "dt");
}

static int
is_list(const xmlNode *n)
{
    return is_el(n, "ul") || is_el(n, "ol") || is_el(n, "dl");
}

/* Appends the text under n into buf (whitespace collapsed), skipping
 * links when skip_a and nested lists always. */
static void
text_into(const xmlNode *n, int skip_a, char *buf, size_t cap, size_t *len)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE && c->content) {
            for (const xmlChar *p = c->content; *p && *len + 1 < cap; p++) {
                int sp = isspace(*p);
                if (sp && (*len == 0 || buf[*len - 1] == ' '))
                    continue;
                buf[(*len)++] = sp ? ' ' : (char)*p;
            }
        } else if (c->type == XML_ELEMENT_NODE && !is_list(c) &&
                   !(skip_a && is_el(c, "a")) && !is_el(c, "script") &&
                   !is_el(c, "style")) {
            text_into(c, skip_a, buf, cap, len);
        }
    }
    buf[*len] = '\0';
}

/* Trims spaces and trailing separators (", " before the links). */
static size_t
trim(char *s, size_t n)
{
    size_t i = 0;

    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == ',' || s[n - 1] == ';' ||
                     s[n - 1] == ':'))
        n--;
    while (i < n && s[i] == ' ')
        i++;
    memmove(s, s + i, n - i);
    s[n - i] = '\0';
    return n - i;
}

/* The first <a href> under n outside nested lists, or NULL. */
static const xmlNode *
first_link(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        const xmlNode *a;
        if (c->type != XML_ELEMENT_NODE || is_list(c))
            continue;
        if (is_el(c, "a") && xmlHasProp(c, (const xmlChar *)"href"))
            return c;
        if ((a = first_link(c)) != NULL)
            return a;
    }
    return NULL;
}

/* The entry's parent entry, or NULL (see the header comment). */
static const xmlNode *
parent_entry(const xmlNode *e)
{
    if (is_el(e, "dt")) {
        const xmlNode *dl = e->parent, *dd = dl ? dl->parent : NULL;
        if (!is_el(dd, "dd"))
            return NULL;
        for (const xmlNode *s = dd->prev; s; s = s->prev)
            if (s->type == XML_ELEMENT_NODE)
                return is_el(s, "dt") ? s : NULL;
        return NULL;
    }
    for (const xmlNode *p = e->parent; p; p = p->parent)
        if (is_el(p, "li"))
            return p;
    return NULL;
}

/* The entry's own term into buf (cap >= RAG_EXPAND_TERM_MAX + 1). */
static size_t
own_term(const xmlNode *e, char *buf, size_t cap)
{
    size_t n = 0;
    const xmlNode *a;

    text_into(e, 1, buf, cap, &n);
    n = trim(buf, n);
    if (n == 0 && (a = first_link(e)) != NULL) {
        text_into(a, 0, buf, cap, &n);
        n = trim(buf, n);
    }
    return n;
}

/* The full term: parent's, ", ", own (depth bounded by the tree). */
static size_t
full_term(const xmlNode *e, char *buf, size_t cap, int depth)
{
    const xmlNode *p = depth < 8 ? parent_entry(e) : NULL;
    size_t n = 0;

    if (p != NULL && (n = full_term(p, buf, cap, depth + 1)) > 0 &&
        n + 2 < cap) {
        buf[n++] = ',';
        buf[n++] = ' ';
    }
    if (n >= cap - 1)
        return n;
    size_t m = own_term(e, buf + n, cap - n);
    if (m == 0 && n >= 2) /* no own words: the parent's term alone */
        n -= 2;
    buf[n + m] = '\0';
    return n + m;
}

typedef struct {
    rag_expand_page *out;
    const char *base;
    size_t text_all, text_entries, cap, ntop;
    char prev_key[3];
    int have_prev;
    int oom;
} walk_t;

static size_t
text_len(const xmlNode *n)
{
    size_t t = 0;
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_TEXT_NODE && c->content) {
            for (const xmlChar *p = c->content; *p; p++)
                t += !isspace(*p);
        } else if (c->type == XML_ELEMENT_NODE && !is_el(c, "script") &&
                   !is_el(c, "style")) {
            t += text_len(c);
        }
    return t;
}

static int
push(walk_t *w, const char *term, const char *url)
{
    rag_expand_page *o = w->out;

    if (o->n >= RAG_EXPAND_MAX_ENTRIES)
        return 0;
    if (o->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        rag_expand_entry *v = realloc(o->v, nc * sizeof(*v));
        if (v == NULL)
            return -1;
        o->v = v;
        w->cap = nc;
    }
    o->v[o->n].term = strdup(term);
    o->v[o->n].url = strdup(url);
    if (!o->v[o->n].term || !o->v[o->n].url) {
        free(o->v[o->n].term);
        free(o->v[o->n].url);
        return -1;
    }
    o->n++;
    return 0;
}

/* Every <a href> under n (an entry) outside its nested lists. */
static int
entry_links(walk_t *w, const xmlNode *n, const char *term)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is_list(c))
            continue;
        if (is_el(c, "a")) {
            xmlChar *href = xmlGetProp(c, (const xmlChar *)"href");
            char abs[2048];
            int rc = 0;
            /* pages of the same site only (an index points into its
             * manual; a link out is navigation) */
            if (href &&
                rag_url_resolve(w->base, (const char *)href, 1, abs,
                                sizeof(abs)) == 0 &&
                rag_url_same_site(abs, w->base))
                rc = push(w, term, abs);
            xmlFree(href);
            if (rc != 0)
                return -1;
        } else if (entry_links(w, c, term) != 0) {
            return -1;
        }
    }
    return 0;
}

/* A term with a letter or digit (not "|" or "»" of a navigation bar):
 * an ASCII one, or a UTF-8 character from U+00C0 on (lead byte 0xC3 or
 * more; U+0080..U+00BF are Latin-1's symbols and punctuation). */
static int
has_alnum(const char *t)
{
    for (; *t; t++)
        if (isalnum((unsigned char)*t) || (unsigned char)*t >= 0xC3)
            return 1;
    return 0;
}

/* Alphabetical key: the first two letters, lower-cased (digits are
 * skipped: a numbered table of contents, "1. What Is ...", "2. A Brief
 * ...", is in numeric order, not alphabetical). */
static void
sort_key(const char *t, char key[3])
{
    size_t k = 0;
    for (; *t && k < 2; t++)
        if (isalpha((unsigned char)*t))
            key[k++] = (char)tolower((unsigned char)*t);
    key[k] = '\0';
}

static int
walk(walk_t *w, const xmlNode *n, int in_entry)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is_el(c, "script") ||
            is_el(c, "style"))
            continue;
        if (is_entry(c) && first_link(c) != NULL) {
            char term[RAG_EXPAND_TERM_MAX + 1];
            full_term(c, term, sizeof(term), 0);
            w->out->nentries++;
            if (parent_entry(c) == NULL && term[0]) {
                char key[3];
                w->ntop++;
                sort_key(term, key);
                if (w->have_prev && strcmp(key, w->prev_key) >= 0)
                    w->out->sorted++;
                memcpy(w->prev_key, key, sizeof(key));
                w->have_prev = 1;
            }
            if (has_alnum(term) && entry_links(w, c, term) != 0)
                return -1;
        }
        if (is_entry(c) && !in_entry) { /* outermost: its text counts */
            w->text_entries += text_len(c);
            if (walk(w, c, 1) != 0)
                return -1;
            continue;
        }
        if (walk(w, c, in_entry) != 0)
            return -1;
    }
    return 0;
}

int
rag_expand_parse(const char *html, size_t len, const char *page_url,
                 rag_expand_page *out, char *err, size_t errlen)
{
    htmlDocPtr doc;
    const xmlNode *root, *body = NULL;
    walk_t w = {0};

    memset(out, 0, sizeof(*out));
    if (len == 0)
        return 0;
    if (len > (size_t)RAG_EXPAND_MAX_INPUT) {
        snprintf(err, errlen, "page too large (%zu bytes)", len);
        return -1;
    }
    doc = htmlReadMemory(html, (int)len, page_url, "UTF-8",
                         HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
                             HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    if (doc == NULL) {
        snprintf(err, errlen, "unparseable HTML");
        return -1;
    }
    root = xmlDocGetRootElement(doc);
    for (const xmlNode *c = root ? root->children : NULL; c; c = c->next)
        if (is_el(c, "body"))
            body = c;
    if (body == NULL)
        body = root;
    w.out = out;
    w.base = page_url;
    if (body != NULL) {
        w.text_all = text_len(body);
        if (walk(&w, body, 0) != 0) {
            snprintf(err, errlen, "out of memory");
            xmlFreeDoc(doc);
            rag_expand_page_free(out);
            return -1;
        }
    }
    xmlFreeDoc(doc);
    /* sorted counts the in-order pairs of neighbouring top-level
     * entries: ntop - 1 pairs */
    out->is_index = out->nentries >= RAG_EXPAND_MIN_ENTRIES &&
                    2 * w.text_entries >= w.text_all && w.ntop >= 2 &&
                    out->sorted * 10 >= (w.ntop - 1) * 8;
    if (!out->is_index) { /* the counts stay: they say why not */
        size_t ne = out->nentries, so = out->sorted;
        rag_expand_page_free(out);
        out->nentries = ne;
        out->sorted = so;
    }
    return 0;
}

void
rag_expand_page_free(rag_expand_page *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].term);
        free(p->v[i].url);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}
