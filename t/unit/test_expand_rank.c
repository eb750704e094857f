/*
 * The lexical vocabulary-gap techniques of issue 16.1 in lib/rag_search:
 * page evidence (a chunk gains from its page's other matching chunks)
 * and question words (words that phrase a question weigh less than the
 * topic's), each with its switch on and off.
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

static char dir[] = "/tmp/test_expand_rank_XXXXXX";

static rag_index *
build(const char *const *bodies, const char *const *urls, size_t n,
      const char *name)
{
    rag_index_writer *w = rag_index_writer_new(0);

    for (size_t i = 0; i < n; i++) {
        rag_index_input in = {(int64_t)(100 + i), urls[i], "", "",
                              bodies[i],          NULL};
        if (rag_index_writer_add(w, &in) != 0) {
            rag_index_writer_free(w);
            return NULL;
        }
    }
    return test_ix_write_open(w, dir, name);
}

static int
search(const rag_index *ix, const char *text, enum rag_search_switch qwords,
       enum rag_search_switch blend, rag_hit *h)
{
    rag_query q = {text, strlen(text), NULL, 5, RAG_SEARCH_BM25, 0};
    rag_search_opts o = {.qwords = qwords, .page_blend = blend};
    return rag_search_ex(ix, &q, &o, h);
}

/* A FAQ entry that repeats one rare query word ("keep") against a page
 * whose three sections each match the common ones: alone, the short
 * chunk wins; with its page's evidence, the page about the topic does. */
static void
test_page_blend(void)
{
    static const char *const bodies[] = {
        "you keep ignoring my keep patch",           /* faq */
        "cache the result of a view for a while",    /* cache page */
        "the cache backend stores each result",      /* cache page */
        "a per site cache holds a result for pages", /* cache page */
        "views render templates",
        "models map tables", /* filler */
        "result sets from queries",
        "forms validate input",
        "cache headers for proxies",
        "urls route requests",
    };
    static const char *const urls[] = {
        "faq.html#keep",     "cache.html#a", "cache.html#b", "cache.html#c",
        "views.html",        "models.html",  "db.html",      "forms.html",
        "http.html#headers", "urls.html",
    };
    rag_index *ix = build(bodies, urls, 10, "blend");
    rag_hit off[5], on[5], dflt[5];
    int noff, non;

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    const char *q = "keep the result cached";
    noff = search(ix, q, RAG_SEARCH_SW_OFF, RAG_SEARCH_SW_OFF, off);
    non = search(ix, q, RAG_SEARCH_SW_OFF, RAG_SEARCH_SW_ON, on);
    CHECK(noff >= 2);
    CHECK_INT(non, noff);
    CHECK_INT(off[0].rec, 0); /* the rare word alone wins */
    CHECK(on[0].rec >= 1 && on[0].rec <= 3);
    /* the page's best chunk leads, once (one hit per page first) */
    CHECK(on[1].rec == 0 || on[1].rec > 3);
    /* bm25 stays the record's own score; score is what ranked it */
    for (int i = 0; i < noff; i++)
        for (int j = 0; j < non; j++)
            if (off[i].rec == on[j].rec)
                CHECK(off[i].bm25 == on[j].bm25);
    CHECK(on[0].score > on[0].bm25);
    /* page evidence is on by default */
    CHECK_INT(search(ix, q, RAG_SEARCH_SW_OFF, RAG_SEARCH_SW_DEFAULT, dflt),
              non);
    CHECK_INT(dflt[0].rec, on[0].rec);

    /* a page with one matching chunk gains nothing: a query only the
     * FAQ entry and single-chunk pages match ranks as before */
    noff =
        search(ix, "ignoring patch", RAG_SEARCH_SW_OFF, RAG_SEARCH_SW_OFF, off);
    non = search(ix, "ignoring patch", RAG_SEARCH_SW_OFF, RAG_SEARCH_SW_ON, on);
    CHECK_INT(noff, 1);
    CHECK_INT(non, 1);
    CHECK(off[0].score == on[0].score);
    rag_index_close(ix);
}

/* "want" and "way" phrase the question; the topic is "tabs". A chunk that
 * matches only the phrasing words (rare in this corpus) outranks the
 * topic's when every word weighs the same, not when they weigh less. */
static void
test_qwords(void)
{
    static const char *const bodies[] = {
        "the way you want it",                             /* phrasing only */
        "indent with tabs or spaces in the editor config", /* topic */
        "spaces around operators",
        "editor themes and colours",
        "config files live in your home",
        "indent width in columns",
        "line endings in files",
        "operators and precedence",
    };
    static const char *const urls[] = {"a.html", "b.html", "c.html", "d.html",
                                       "e.html", "f.html", "g.html", "h.html"};
    rag_index *ix = build(bodies, urls, 8, "qwords");
    rag_hit off[5], on[5], dflt[5];

    CHECK(ix != NULL);
    if (ix == NULL)
        return;
    const char *q = "I want a way to use tabs";
    CHECK(search(ix, q, RAG_SEARCH_SW_OFF, RAG_SEARCH_SW_OFF, off) == 2);
    CHECK(search(ix, q, RAG_SEARCH_SW_ON, RAG_SEARCH_SW_OFF, on) == 2);
    CHECK_INT(off[0].rec, 0);
    CHECK_INT(on[0].rec, 1);
    /* still matched, at a fifth of the weight: it follows */
    CHECK_INT(on[1].rec, 0);
    CHECK(on[1].bm25 > 0 && on[1].bm25 < off[0].bm25 / 4);
    CHECK(search(ix, q, RAG_SEARCH_SW_DEFAULT, RAG_SEARCH_SW_OFF, dflt) == 2);
    CHECK_INT(dflt[0].rec, 1);
    /* a word written as a topic word too keeps its full weight */
    CHECK(search(ix, "way way", RAG_SEARCH_SW_ON, RAG_SEARCH_SW_OFF, on) == 1);
    CHECK(search(ix, "way way", RAG_SEARCH_SW_OFF, RAG_SEARCH_SW_OFF, off) ==
          1);
    CHECK(on[0].bm25 < off[0].bm25);
    rag_index_close(ix);
}

static void
test_question_word_list(void)
{
    CHECK_INT(rag_term_is_question_word("want", 4), 1);
    CHECK_INT(rag_term_is_question_word("Want", 4), 1);
    CHECK_INT(rag_term_is_question_word("POSSIBLE", 8), 1);
    CHECK_INT(rag_term_is_question_word("wants", 4), 1); /* "want" */
    CHECK_INT(rag_term_is_question_word("way", 3), 1);
    /* names in manuals are not on the list */
    CHECK_INT(rag_term_is_question_word("get", 3), 0);
    CHECK_INT(rag_term_is_question_word("keep", 4), 0);
    CHECK_INT(rag_term_is_question_word("sort", 4), 0);
    CHECK_INT(rag_term_is_question_word("like", 4), 0);
    CHECK_INT(rag_term_is_question_word("cache", 5), 0);
    CHECK_INT(rag_term_is_question_word("", 0), 0);
    CHECK_INT(rag_term_is_question_word("wantwantwantwantwant", 20), 0);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(test_page_blend);
    RUN(test_qwords);
    RUN(test_question_word_list);
    test_ix_rmdir(dir);
    UNIT_DONE();
}
