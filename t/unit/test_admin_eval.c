/*
 * Unit tests for rag-admin eval's pure parts (worker/eval.c): URL
 * matching with and without fragments and a base, line parsing (JSONL and
 * TSV), first-rank search and recall/MRR accumulation.
 *
 * Worker objects are not in librag.a, so the source is included here.
 */
#include "unit.h"

#include "../../worker/eval.c"

#include <math.h>

static void
test_url_match(void)
{
    static const struct {
        const char *hit, *want, *base;
        int match;
    } t[] = {
        {"https://x/a.html#sec", "https://x/a.html", "", 1},
        {"https://x/a.html", "https://x/a.html", "", 1},
        {"https://x/a.html#sec", "https://x/a.html#sec", "", 1},
        {"https://x/a.html#other", "https://x/a.html#sec", "", 0},
        {"https://x/a.html", "https://x/a.html#sec", "", 0},
        {"https://x/a.html.bak", "https://x/a.html", "", 0},
        {"https://x/a", "https://x/a.html", "", 0},
        /* relative expected URLs against a base, any number of slashes */
        {"http://127.0.0.1:8080/a.html#s", "a.html", "http://127.0.0.1:8080", 1},
        {"http://127.0.0.1:8080/a.html", "/a.html", "http://127.0.0.1:8080/", 1},
        {"http://127.0.0.1:9090/a.html", "a.html", "http://127.0.0.1:8080", 0},
        {"http://127.0.0.1:8080/b/a.html", "a.html", "http://127.0.0.1:8080", 0},
        /* absolute expected URLs ignore the base */
        {"https://x/a.html", "https://x/a.html", "http://127.0.0.1", 1},
        {"https://x/a.html", "", "", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int m = eval_url_match(t[i].hit, strlen(t[i].hit), t[i].want,
                               t[i].base);
        if (m != t[i].match)
            fprintf(stderr, "case %zu: %s vs %s\n", i, t[i].hit, t[i].want);
        CHECK_INT(m, t[i].match);
    }
}

static void
test_parse(void)
{
    char err[256];
    eval_item it;
    const char *l;

    l = "{\"q\":\"How?\",\"urls\":[\"a.html\",\"b.html\"]}\n";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), 1);
    CHECK_STR(it.q, "How?");
    CHECK_INT(it.nurls, 2);
    CHECK_STR(it.urls[1], "b.html");
    eval_item_free(&it);

    l = "{\"question\":\"Why?\",\"url\":\"c.html\"}";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), 1);
    CHECK_STR(it.q, "Why?");
    CHECK_STR(it.urls[0], "c.html");
    eval_item_free(&it);

    l = "What now?\ta.html\tb.html\r\n";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), 1);
    CHECK_STR(it.q, "What now?");
    CHECK_INT(it.nurls, 2);
    CHECK_STR(it.urls[1], "b.html");
    eval_item_free(&it);

    CHECK_INT(eval_parse_line("\n", 1, &it, err, sizeof(err)), 0);
    CHECK_INT(eval_parse_line("# x\ty", 5, &it, err, sizeof(err)), 0);

    l = "{\"q\":\"x\"}";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);
    CHECK_STR(err, "no expected urls");
    l = "{\"q\":\"x\",\"urls\":[1]}";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);
    l = "{\"urls\":[\"a\"]}";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);
    CHECK_STR(err, "missing \"q\"");
    l = "{\"q\":";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);
    l = "no tab here";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);
    l = "question only\t";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);
}

static void
test_rank_and_score(void)
{
    eval_item it = {0};
    const char *urls[] = {"https://x/z.html", "https://x/b.html#k",
                          "https://x/a.html#top"};
    size_t lens[3];
    eval_score s;
    size_t i;

    for (i = 0; i < 3; i++)
        lens[i] = strlen(urls[i]);
    it.urls[0] = "a.html";
    it.urls[1] = "b.html";
    it.nurls = 2;
    CHECK_INT(eval_first_rank(&it, urls, lens, 3, "https://x"), 2);
    it.nurls = 1;
    CHECK_INT(eval_first_rank(&it, urls, lens, 3, "https://x"), 3);
    CHECK_INT(eval_first_rank(&it, urls, lens, 2, "https://x"), 0);

    memset(&s, 0, sizeof(s));
    eval_score_add(&s, 1);
    eval_score_add(&s, 4);
    eval_score_add(&s, 7);
    eval_score_add(&s, 0);
    CHECK_INT(s.n, 4);
    CHECK_INT(s.at1, 1);
    CHECK_INT(s.at5, 2);
    CHECK_INT(s.at10, 3);
    CHECK(fabs(s.rr_sum - (1.0 + 0.25 + 1.0 / 7)) < 1e-12);
}

int
main(void)
{
    RUN(test_url_match);
    RUN(test_parse);
    RUN(test_rank_and_score);
    UNIT_DONE();
}
