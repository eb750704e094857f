/*
 * Unit tests for rag-admin eval's pure parts (worker/admin/eval.c): URL
 * matching with and without fragments and a base, line parsing (JSONL and
 * TSV), first-rank search and recall/MRR accumulation.
 *
 * Worker objects are not in librag.a, so the source is included here.
 */
#include "unit.h"

#include "../../worker/admin/eval.c"

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
        {"http://127.0.0.1:8080/a.html#s", "a.html", "http://127.0.0.1:8080",
         1},
        {"http://127.0.0.1:8080/a.html", "/a.html", "http://127.0.0.1:8080/",
         1},
        {"http://127.0.0.1:9090/a.html", "a.html", "http://127.0.0.1:8080", 0},
        {"http://127.0.0.1:8080/b/a.html", "a.html", "http://127.0.0.1:8080",
         0},
        /* absolute expected URLs ignore the base */
        {"https://x/a.html", "https://x/a.html", "http://127.0.0.1", 1},
        {"https://x/a.html", "", "", 0},
        /* one page, however it is spelled: index.html = dir/ = dir */
        {"http://h/pg/", "index.html", "http://h/pg", 1},
        {"http://h/pg/index.html#top", "./", "http://h/pg/", 1},
        {"http://h/pg", "index.html", "http://h/pg/", 1},
        {"http://h/guide/setup/index.html", "guide/setup/", "http://h", 1},
        {"http://h/guide/setup/", "guide/setup", "http://h", 1},
        {"http://h/guide/setup#x", "guide/setup/index.html", "http://h", 1},
        {"http://h/guide/setup#x", "./guide/setup/", "http://h/", 1},
        {"http://h/guide/myindex.html", "guide/my", "http://h", 0},
        {"http://h/guide/setup/index.html", "guide/", "http://h", 0},
        {"http://h/a/index.htm", "a", "http://h", 1},
        /* scheme and host case, default ports */
        {"HTTP://Docs.Example.ORG:80/A.html", "http://docs.example.org/A.html",
         "", 1},
        {"http://docs.example.org/A.html", "http://docs.example.org/a.html", "",
         0},
        {"https://x:443/a.html", "https://x/a.html", "", 1},
        {"http://x:443/a.html", "http://x/a.html", "", 0},
        {"https://x:8443/a.html", "https://x/a.html", "", 0},
        /* the query is part of the page; a fragment expected must match */
        {"https://x/a?v=2#s", "https://x/a?v=2", "", 1},
        {"https://x/a?v=3", "https://x/a?v=2", "", 0},
        {"https://x/a/#sec", "https://x/a#sec", "", 1},
        {"https://x/a/index.html#sec", "a/#sec", "https://x", 1},
        {"https://x/a/index.html#sec", "a/#other", "https://x", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int m =
            eval_url_match(t[i].hit, strlen(t[i].hit), t[i].want, t[i].base);
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

    l = "{\"collection\":\"py\",\"q\":\"Mixed?\",\"urls\":[\"a.html\"]}";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), 1);
    CHECK_STR(it.collection, "py");
    eval_item_free(&it);
    l = "{\"collection\":7,\"q\":\"x\",\"urls\":[\"a.html\"]}";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);
    CHECK_STR(err, "\"collection\" must be a name");
    l = "{\"collection\":\"\",\"q\":\"x\",\"urls\":[\"a.html\"]}";
    CHECK_INT(eval_parse_line(l, strlen(l), &it, err, sizeof(err)), -1);

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

static void
test_url_norm(void)
{
    char out[32], big[EVAL_MAX_URL + 16];

    CHECK_INT(
        eval_url_norm("HTTP://A:80/x/index.html#f", 26, 0, out, sizeof(out)),
        10);
    CHECK_STR(out, "http://a/x");
    CHECK_INT(eval_url_norm("HTTP://A:80/x/#f", 16, 1, out, sizeof(out)), 12);
    CHECK_STR(out, "http://a/x#f");
    CHECK_INT(eval_url_norm("rel/page.html", 13, 0, out, sizeof(out)), 13);
    CHECK_STR(out, "rel/page.html");
    CHECK_INT(eval_url_norm("a:b/c", 5, 0, out, sizeof(out)), 5);
    CHECK_STR(out, "a:b/c");
    /* too long for the buffer: an error, never a truncated match */
    CHECK_INT(eval_url_norm("http://host/a-long-path/page.html", 33, 0, out,
                            sizeof(out)),
              -1);
    memset(big, 'a', sizeof(big));
    memcpy(big, "http://x/", 9);
    CHECK_INT(eval_url_match(big, sizeof(big), "http://x/", ""), 0);
}

int
main(void)
{
    RUN(test_url_match);
    RUN(test_url_norm);
    RUN(test_parse);
    RUN(test_rank_and_score);
    UNIT_DONE();
}
