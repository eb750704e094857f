/*
 * A bare number in a question ("after 30 seconds", "20 at a time", "200
 * URLs") is mostly an example quantity: the query side weighs it as a
 * question word (lib/rag_search.c, qterm_cb), so a passage that matches
 * only the number, rare in the docs, no longer outranks the topic's.
 */
#include "rag_index.h"
#include "rag_search.h"
#include "rag_terms.h"
#include "test_ix.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/test_query_numbers_XXXXXX";

static rag_index *
build(const char *const *bodies, size_t n)
{
    char url[32];
    rag_index_writer *w = rag_index_writer_new(0);

    for (size_t i = 0; i < n; i++) {
        snprintf(url, sizeof(url), "p%zu.html", i);
        rag_index_input in = {(int64_t)(100 + i), url, "", "", bodies[i], NULL};
        if (rag_index_writer_add(w, &in) != 0) {
            rag_index_writer_free(w);
            return NULL;
        }
    }
    return test_ix_write_open(w, dir, "numbers");
}

static int
search(const rag_index *ix, const char *text, enum rag_search_switch qwords,
       rag_hit *h)
{
    rag_query q = {text, strlen(text), NULL, 5, RAG_SEARCH_BM25, 0};
    rag_search_opts o = {.qwords = qwords, .page_blend = RAG_SEARCH_SW_OFF};
    return rag_search_ex(ix, &q, &o, h);
}

static void
test_number_weight(void)
{
    /* "30" is rare (one passage, about something else); "timeout" is in
     * several */
    static const char *const bodies[] = {
        "the pool holds 30 connections",
        "statement timeout aborts a statement that runs too long",
        "lock timeout limits the wait for a lock",
        "idle session timeout closes idle sessions",
        "timeout settings of the server",
        "checkpoints and the write ahead log",
    };
    rag_index *ix = build(bodies, 6);
    rag_hit off[5], on[5];

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    const char *q = "timeout after 30";
    /* every word at full weight: the rare number wins */
    CHECK(search(ix, q, RAG_SEARCH_SW_OFF, off) == 5);
    CHECK_INT(off[0].rec, 0);
    /* the product's: a timeout passage does */
    CHECK(search(ix, q, RAG_SEARCH_SW_DEFAULT, on) == 5);
    CHECK(on[0].rec >= 1 && on[0].rec <= 4);
    /* the number still counts, at a fifth: its passage is found */
    int found = 0;
    for (int i = 0; i < 5; i++)
        found |= on[i].rec == 0;
    CHECK(found);
    /* "30" alone: the only term, still found */
    CHECK(search(ix, "30", RAG_SEARCH_SW_DEFAULT, on) == 1);
    CHECK_INT(on[0].rec, 0);
    rag_index_close(ix);
}

static void
test_is_number(void)
{
    CHECK_INT(rag_term_is_number("30", 2), 1);
    CHECK_INT(rag_term_is_number("200", 3), 1);
    CHECK_INT(rag_term_is_number("15.2", 4), 0);
    CHECK_INT(rag_term_is_number("utf8", 4), 0);
    CHECK_INT(rag_term_is_number("2x", 2), 0);
    CHECK_INT(rag_term_is_number("", 0), 0);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(test_number_weight);
    RUN(test_is_number);
    test_ix_rmdir(dir);
    UNIT_DONE();
}
