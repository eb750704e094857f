/*
 * rag_expand: index pages recognised by structure (a DocBook bookindex
 * and a Sphinx genindex in miniature), their (term, target) pairs, and
 * pages that are not indexes (a table of contents, an article with a
 * sorted link list, a glossary) left alone.
 */
#include "rag_buf.h"
#include "rag_expand.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE "http://docs.test/manual/bookindex.html"

/* The pair (term, url) is among p's. */
static int
has_pair(const rag_expand_page *p, const char *term, const char *url)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].term, term) == 0 && strcmp(p->v[i].url, url) == 0)
            return 1;
    return 0;
}

static int
parse(const rag_buf *b, rag_expand_page *p)
{
    char err[128];
    int rc = rag_expand_parse(b->data, b->len, BASE, p, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "parse: %s\n", err);
    return rc;
}

/* 26 alphabetical filler entries "aXa", "bXb", ... in the given syntax */
static void
filler(rag_buf *b, int docbook)
{
    for (char c = 'a'; c <= 'z'; c++) {
        char e[256];
        if (docbook)
            snprintf(e, sizeof(e),
                     "<dt>%c%cword, <a href=\"p%c.html#S-%c\">Section "
                     "%c</a></dt>\n",
                     c, c, c, c, c);
        else
            snprintf(e, sizeof(e),
                     "<li><a href=\"lib/p%c.html#%c\">%c%cname() (in module "
                     "m)</a></li>\n",
                     c, c, c, c);
        rag_buf_puts(b, e);
    }
}

static void
test_docbook(void)
{
    rag_buf b;
    rag_expand_page p;

    rag_buf_init(&b, 0);

    rag_buf_puts(&b, "<html><head><title>Index</title></head><body>"
                     "<div class=navheader><a href=\"index.html\">Home</a>"
                     "</div><h1>Index</h1><dl>\n"
                     "<dt>advisory lock, <a href=\"explicit-locking.html"
                     "#ADVISORY-LOCKS\">Advisory Locks</a></dt>\n"
                     "<dt>aggregate function, <a href=\"tutorial-agg.html\">"
                     "Aggregate Functions</a>, <a href=\"xaggr.html\">User-"
                     "Defined Aggregates</a></dt>\n<dd><dl>"
                     "<dt>moving aggregate, <a href=\"xaggr.html#XAGGR-MOVING"
                     "\">Moving-Aggregate Mode</a></dt></dl></dd>\n");
    filler(&b, 1);
    rag_buf_puts(&b, "<dt>zzz, <a href=\"https://elsewhere.test/x\">out</a>"
                     "</dt></dl></body></html>");
    CHECK_INT(parse(&b, &p), 0);
    CHECK_INT(p.is_index, 1);
    CHECK(p.nentries >= 29);
    CHECK(has_pair(&p, "advisory lock",
                   "http://docs.test/manual/explicit-locking.html"
                   "#ADVISORY-LOCKS"));
    /* one term, two targets */
    CHECK(has_pair(&p, "aggregate function",
                   "http://docs.test/manual/tutorial-agg.html"));
    CHECK(has_pair(&p, "aggregate function",
                   "http://docs.test/manual/xaggr.html"));
    /* a sub-entry carries its parent's term */
    CHECK(has_pair(&p, "aggregate function, moving aggregate",
                   "http://docs.test/manual/xaggr.html#XAGGR-MOVING"));
    CHECK(has_pair(&p, "qqword", "http://docs.test/manual/pq.html#S-q"));
    /* the link text is not the term when the entry has its own words */
    CHECK(!has_pair(&p, "Advisory Locks",
                    "http://docs.test/manual/explicit-locking.html"
                    "#ADVISORY-LOCKS"));
    /* links off the site are no targets */
    for (size_t i = 0; i < p.n; i++)
        CHECK(strncmp(p.v[i].url, "http://docs.test/", 17) == 0);
    rag_expand_page_free(&p);
    CHECK_INT((int)p.n, 0);
    rag_buf_free(&b);
}

static void
test_sphinx(void)
{
    rag_buf b;
    rag_expand_page p;

    rag_buf_init(&b, 0);

    rag_buf_puts(&b, "<html><body><div class=related><ul><li><a href=\"genindex"
                     ".html\">index</a></li><li>|</li><li><a href=\"https://"
                     "www.python.org/\">&#187;</a></li></ul></div>"
                     "<h1>Index</h1><table class=indextable><tr><td><ul>\n"
                     "<li>abc<ul><li><a href=\"library/abc.html#module-abc\">"
                     "module</a></li></ul></li>\n");
    filler(&b, 0);
    rag_buf_puts(&b, "</ul></td></tr></table></body></html>");
    CHECK_INT(parse(&b, &p), 0);
    CHECK_INT(p.is_index, 1);
    /* an entry whose only text is its link: the link text is the term */
    CHECK(has_pair(&p, "ccname() (in module m)",
                   "http://docs.test/manual/lib/pc.html#c"));
    /* an entry with text but its links in a sub-list: parent, sub-entry */
    CHECK(has_pair(&p, "abc, module",
                   "http://docs.test/manual/library/abc.html#module-abc"));
    /* navigation: "|" has no link, "»" no letter and leaves the site */
    for (size_t i = 0; i < p.n; i++)
        CHECK(strstr(p.v[i].term, "\xc2\xbb") == NULL);
    rag_expand_page_free(&p);
    rag_buf_free(&b);
}

/* A table of contents: entries with links, in the manual's order. */
static void
test_not_index(void)
{
    static const char *const titles[] = {
        "What Is PostgreSQL?", "A Brief History", "Conventions",
        "Further Information", "Bug Reporting Guidelines", "Tutorial",
        "Getting Started", "Installation", "Architectural Fundamentals",
        "Creating a Database", "Accessing a Database", "The SQL Language",
        "Introduction", "Concepts", "Creating a New Table",
        "Populating a Table With Rows", "Querying a Table", "Joins",
        "Aggregate Functions", "Updates", "Deletions", "Advanced Features",
        "Views", "Foreign Keys", "Transactions", "Window Functions",
    };
    rag_buf b;
    rag_expand_page p;

    rag_buf_init(&b, 0);

    rag_buf_puts(&b, "<html><body><h1>Contents</h1><dl>");
    for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
        char e[256];
        snprintf(e, sizeof(e), "<dt><a href=\"s%zu.html\">%zu. %s</a></dt>",
                 i, i + 1, titles[i]);
        rag_buf_puts(&b, e);
    }
    rag_buf_puts(&b, "</dl></body></html>");
    CHECK_INT(parse(&b, &p), 0);
    CHECK_INT(p.is_index, 0);
    CHECK_INT((int)p.n, 0);
    CHECK(p.nentries >= 26); /* it saw them: the order said no */
    rag_expand_page_free(&p);
    rag_buf_free(&b);

    /* an article: a sorted link list, but most of the text is prose */
    rag_buf_puts(&b, "<html><body><h1>Commands</h1>");
    for (int i = 0; i < 40; i++)
        rag_buf_puts(&b, "<p>Prose that explains what the commands below "
                         "do and how they fit together, at some length.</p>");
    rag_buf_puts(&b, "<ul>");
    filler(&b, 0);
    rag_buf_puts(&b, "</ul></body></html>");
    CHECK_INT(parse(&b, &p), 0);
    CHECK_INT(p.is_index, 0);
    rag_expand_page_free(&p);
    rag_buf_free(&b);

    /* a glossary: terms defined in place, no entry links */
    rag_buf_puts(&b, "<html><body><dl>");
    for (char c = 'a'; c <= 'z'; c++) {
        char e[128];
        snprintf(e, sizeof(e), "<dt id=\"g%c\">%c term</dt><dd>Meaning.</dd>",
                 c, c);
        rag_buf_puts(&b, e);
    }
    rag_buf_puts(&b, "</dl></body></html>");
    CHECK_INT(parse(&b, &p), 0);
    CHECK_INT(p.is_index, 0);
    CHECK_INT((int)p.nentries, 0);
    rag_expand_page_free(&p);
    rag_buf_free(&b);

    /* empty and oversized input */
    CHECK_INT(rag_expand_parse("", 0, BASE, &p, NULL, 0) == 0 ? 0 : -1, 0);
    CHECK_INT(p.is_index, 0);
    char err[64];
    CHECK_INT(rag_expand_parse("x", (size_t)RAG_EXPAND_MAX_INPUT + 1, BASE, &p,
                               err, sizeof(err)),
              -1);
    rag_expand_page_free(NULL);
}

int
main(void)
{
    RUN(test_docbook);
    RUN(test_sphinx);
    RUN(test_not_index);
    UNIT_DONE();
}
