/*
 * rag_expand — the terms a manual's authors indexed each section under,
 * read from the manual's own index pages (Sphinx genindex, DocBook's
 * bookindex, any back-of-the-book index rendered as HTML), for document
 * expansion (issue 16.1): the words users know a feature by, attached to
 * the section that explains it.
 *
 * An index page is recognised by structure, with no per-site rule: it is
 * mostly entries (li or dt elements holding links to other pages), at
 * least RAG_EXPAND_MIN_ENTRIES of them, their text is most of the page's
 * text, and their terms run in alphabetical order (what tells an index
 * from a table of contents or a link list: rag_expand.c says how it is
 * counted). Each entry gives its term (the entry's own text outside its
 * links, or else its first link's text), prefixed by the enclosing
 * entry's term for a sub-entry ("aggregate function, moving aggregate"),
 * once per link target.
 *
 * Used by the crawler (worker/ingest: pairs stored in sql/111's table)
 * and the index writer (the terms in the target chunk's heading field,
 * index_expansion; README, "Ranking").
 *
 * Ownership: rag_expand_page owns its entries and their strings; free it
 * with rag_expand_page_free (safe on a zeroed one).
 */
#ifndef RAG_EXPAND_H
#define RAG_EXPAND_H

#include <stddef.h>

#define RAG_EXPAND_MIN_ENTRIES 20
#define RAG_EXPAND_MAX_INPUT (16u * 1024 * 1024) /* bytes of HTML */
#define RAG_EXPAND_MAX_ENTRIES 200000
#define RAG_EXPAND_TERM_MAX 200 /* bytes of a term; longer ones are cut */

typedef struct {
    char *term; /* UTF-8, whitespace collapsed */
    char *url;  /* absolute, with the target's #fragment when it has one */
} rag_expand_entry;

typedef struct {
    int is_index; /* the page is an index page (then entries are filled) */
    rag_expand_entry *v;
    size_t n;
    size_t nentries, sorted; /* what the decision saw: entries, in order */
} rag_expand_page;

/* Parses html[0..len) fetched from page_url (absolute): decides whether
 * it is an index page and, if so, fills out with its (term, url) pairs;
 * links that do not resolve to http(s) URLs of page_url's site are
 * skipped. Empty input is no index page. 0, or -1 with err filled
 * (input over RAG_EXPAND_MAX_INPUT, unparseable, out of memory). */
int rag_expand_parse(const char *html, size_t len, const char *page_url,
                     rag_expand_page *out, char *err, size_t errlen);

void rag_expand_page_free(rag_expand_page *p);

#endif
