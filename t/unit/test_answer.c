/*
 * Unit tests for the worker's pure answer code: sentence-boundary cuts,
 * the retrieval query, prompt building within a token budget, citation
 * parsing, "not covered" detection, the extractive and abstain texts,
 * the retry backoff and the LLM request/response JSON.
 *
 * Worker objects are not in librag.a, so the sources are included here.
 */
#include "unit.h"

#include "../../worker/answer_text.c"
#include "../../worker/conf_tables.c"
#include "../../worker/llm.c"
#include "../../worker/queue.c"

#include <math.h>
#include <yajl/yajl_tree.h>

static void
test_cut(void)
{
    static const struct {
        const char *in;
        size_t max;
        const char *want;
    } t[] = {
        {"Short.", 100, "Short."},
        {"One two. Three four five. Six", 26, "One two. Three four five."},
        {"One two. Three four five six seven", 20, "One two."},
        /* no sentence end that keeps a third: cut at a word */
        {"A. bbbbbbbbbbbbbbbbbbbb cccccccccc dddd", 34,
         "A. bbbbbbbbbbbbbbbbbbbb cccccccccc"},
        {"Para one\n\nPara two is longer than this", 20, "Para one"},
        {"nospacesatallinthisverylongword", 10, "nospacesat"},
        /* never split a UTF-8 sequence: "ééééé" is 10 bytes */
        {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5, "\xc3\xa9\xc3\xa9"},
        {"Ends with question? Yes it does", 25, "Ends with question?"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t n = rag_answer_cut(t[i].in, strlen(t[i].in), t[i].max);
        char got[128];

        snprintf(got, sizeof(got), "%.*s", (int)n, t[i].in);
        CHECK_STR(got, t[i].want);
        CHECK(n <= t[i].max);
    }
}

static void
test_query(void)
{
    rag_turn turns[] = {
        {0, "How do I install it?"},
        {1, "Run apt install acme [1]."},
        {0, "And where is the config file?"},
    };
    rag_buf b;

    rag_buf_init(&b, 0);
    CHECK_INT(rag_answer_query("Install help", turns, 3, 2000, &b), 0);
    CHECK_STR(b.data, "Install help\nAnd where is the config file?\n"
                      "And where is the config file?\nHow do I install it?");
    CHECK(strstr(b.data, "apt install") == NULL); /* bot turns left out */
    rag_buf_reset(&b);
    CHECK_INT(rag_answer_query("T", turns, 3, 40, &b), 0);
    CHECK(b.len <= 40 + 8);
    CHECK(strncmp(b.data, "T\n", 2) == 0);
    rag_buf_free(&b);
}

static rag_passage
passage(int n, const char *body)
{
    rag_passage p;

    memset(&p, 0, sizeof(p));
    p.n = n;
    p.chunk_id = 100 + n;
    p.url = "https://d.test/p#a";
    p.title = "Page";
    p.heading = "Page > Sec";
    p.body = body;
    p.body_len = strlen(body);
    return p;
}

static void
test_prompt(void)
{
    static char longtxt[8000];
    rag_turn turns[30];
    rag_passage ps[5];
    rag_prompt_limits lim = {1200, 200, 300, 12};
    rag_prompt pr;

    memset(longtxt, 'x', sizeof(longtxt) - 1);
    for (int i = 0; i < 5; i++)
        ps[i] =
            passage(i + 1, i == 0 ? "Install with apt. More text." : longtxt);
    for (int i = 0; i < 30; i++) {
        turns[i].from_bot = i % 2 == 0; /* last (29) is a user turn */
        turns[i].content = i == 29 ? "latest question" : longtxt;
    }
    /* roles and order */
    {
        rag_turn t3[] = {{0, "q1"}, {1, "a1"}, {0, "q2"}};
        CHECK_INT(rag_answer_prompt("Acme", "Title", t3, 3, ps, 1, &lim, &pr),
                  0);
        CHECK_INT(pr.n, 4);
        CHECK_STR(pr.msgs[0].role, "system");
        CHECK_STR(pr.msgs[1].role, "user");
        CHECK_STR(pr.msgs[2].role, "assistant");
        CHECK_STR(pr.msgs[3].role, "user");
        CHECK_STR(pr.msgs[3].content, "q2");
        CHECK(strstr(pr.msgs[0].content, "about Acme") != NULL);
        CHECK(strstr(pr.msgs[0].content, "Thread title: Title") != NULL);
        CHECK(strstr(pr.msgs[0].content,
                     "\n[1] Page > Page > Sec (https://d.test/p#a)\n"
                     "Install with apt. More text.\n") != NULL);
        CHECK(strstr(pr.msgs[0].content, rag_answer_not_covered) != NULL);
        CHECK_INT(pr.passages_used, 1);
        rag_prompt_free(&pr);
    }
    /* budget: long history and passages are trimmed, latest turn kept */
    CHECK_INT(rag_answer_prompt("Acme", NULL, turns, 30, ps, 5, &lim, &pr), 0);
    CHECK(pr.tokens <= lim.budget_tokens);
    CHECK(pr.passages_used >= 1 && pr.passages_used < 5);
    CHECK(pr.turns_used >= 1 && pr.turns_used < 30);
    CHECK_STR(pr.msgs[pr.n - 1].content, "latest question");
    CHECK_STR(pr.msgs[pr.n - 1].role, "user");
    for (size_t i = 1; i < pr.n; i++)
        CHECK(strlen(pr.msgs[i].content) <= lim.turn_tokens * 4 + 4);
    /* every passage in the prompt is cut to passage_tokens */
    CHECK(strlen(pr.msgs[0].content) <
          2000 + pr.passages_used * (lim.passage_tokens * 4 + 80));
    rag_prompt_free(&pr);
    /* the latest turn alone over budget still goes in, cut */
    turns[29].content = longtxt;
    CHECK_INT(rag_answer_prompt("Acme", NULL, turns, 30, ps, 5, &lim, &pr), 0);
    CHECK_INT(pr.passages_used >= 1, 1);
    CHECK(strlen(pr.msgs[pr.n - 1].content) <= lim.turn_tokens * 4 + 4);
    rag_prompt_free(&pr);
}

static void
test_citations(void)
{
    CHECK_INT(rag_answer_citations("See [1].", 5), 1);
    CHECK_INT(rag_answer_citations("See [1, 3] and [2][5]", 5), 0x17);
    CHECK_INT(rag_answer_citations("[0] [6] [99] [a] [", 5), 0);
    CHECK_INT(rag_answer_citations("[2", 5), 0);
    CHECK_INT(rag_answer_citations("[3]", 2), 0);
    CHECK_INT(rag_answer_says_not_covered(rag_answer_not_covered, 3), 1);
    CHECK_INT(rag_answer_says_not_covered("Sorry, the documentation "
                                          "doesn't cover that.",
                                          3),
              1);
    CHECK_INT(rag_answer_says_not_covered("The docs do not cover X, but "
                                          "[1] says Y.",
                                          3),
              0);
    CHECK_INT(rag_answer_says_not_covered("Install with apt [1].", 3), 0);
}

static void
test_texts(void)
{
    rag_passage ps[2];
    rag_buf b;

    ps[0] = passage(1, "## Install\n\nRun apt install acme. It starts "
                       "the service.\nThen check it.");
    ps[1] = passage(2, "Second passage.");
    rag_buf_init(&b, 0);
    CHECK_INT(rag_answer_extractive("Acme", ps, 2, 30, &b), 0);
    CHECK_STR(b.data, "Here is what the Acme docs say:\n"
                      "\n**[1] Page › Page > Sec** <https://d.test/p#a>\n"
                      "> Run apt install acme. …\n"
                      "\n**[2] Page › Page > Sec** <https://d.test/p#a>\n"
                      "> Second passage.\n");
    /* a product named "... documentation" / "... docs" / "... manual" is
     * not followed by "docs" again (the demo said "documentation docs") */
    rag_buf_reset(&b);
    CHECK_INT(
        rag_answer_extractive("PostgreSQL 15 documentation", ps, 1, 30, &b), 0);
    CHECK(strncmp(b.data,
                  "Here is what the PostgreSQL 15 documentation "
                  "says:\n",
                  47) == 0);
    rag_buf_reset(&b);
    CHECK_INT(rag_answer_extractive("Acme Docs", ps, 1, 30, &b), 0);
    CHECK(strncmp(b.data, "Here is what the Acme Docs say:\n", 32) == 0);
    rag_buf_reset(&b);
    CHECK_INT(rag_answer_extractive("Python manual", ps, 1, 30, &b), 0);
    CHECK(strncmp(b.data, "Here is what the Python manual says:\n", 37) == 0);
    rag_buf_reset(&b);
    CHECK_INT(rag_answer_extractive("Acme", ps, 1, 500, &b), 0);
    CHECK(strstr(b.data, "> Run apt install acme. It starts the service.\n"
                         "> Then check it.\n") != NULL);
    rag_buf_reset(&b);
    CHECK_INT(rag_answer_abstain_text("Acme", "123", &b), 0);
    CHECK(strstr(b.data, "Acme docs") && strstr(b.data, "<@&123>"));
    rag_buf_reset(&b);
    CHECK_INT(rag_answer_abstain_text("Acme", NULL, &b), 0);
    CHECK(strstr(b.data, "<@&") == NULL);
    rag_buf_free(&b);
}

static void
test_backoff(void)
{
    static const double want[] = {1, 16, 81, 256, 625, 1296, 2401, 3600};

    for (int a = 1; a <= 8; a++)
        CHECK(fabs(rag_queue_backoff(a, 1.0, 3600, 0.5) - want[a - 1]) < 1e-9);
    CHECK(fabs(rag_queue_backoff(3, 1.0, 3600, 0.0) - 81 * 0.9) < 1e-9);
    CHECK(fabs(rag_queue_backoff(3, 1.0, 3600, 1.0) - 81 * 1.1) < 1e-9);
    CHECK(fabs(rag_queue_backoff(2, 0.01, 3600, 0.5) - 0.16) < 1e-9);
    CHECK(fabs(rag_queue_backoff(0, 1.0, 3600, 0.5) - 1) < 1e-9);
    CHECK(rag_queue_backoff(50, 1.0, 60, 1.0) <= 66.0 + 1e-9);
}

static void
test_llm_json(void)
{
    rag_llm_conf lc;
    rag_llm_msg m[2] = {{"system", "be \"exact\""}, {"user", "q\n1"}};
    rag_buf b, c;
    char err[128], fin[32], perr[64];
    yajl_val root;
    static const char *tp[] = {"temperature", NULL};
    static const char *mp[] = {"messages", NULL};

    memset(&lc, 0, sizeof(lc));
    lc.model = "m1";
    lc.temperature = 0.2;
    lc.max_tokens = 300;
    rag_buf_init(&b, 0);
    CHECK_INT(rag_llm_request_json(&lc, m, 2, &b), 0);
    root = yajl_tree_parse(b.data, perr, sizeof(perr));
    CHECK(root != NULL);
    if (root) {
        yajl_val t = yajl_tree_get(root, tp, yajl_t_number);
        yajl_val ms = yajl_tree_get(root, mp, yajl_t_array);
        CHECK(t && fabs(YAJL_GET_DOUBLE(t) - 0.2) < 1e-9);
        CHECK(ms && YAJL_GET_ARRAY(ms)->len == 2);
        yajl_tree_free(root);
    }
    CHECK(strstr(b.data, "\"max_tokens\":300") != NULL);
    lc.temperature = -1;
    lc.max_tokens = 0;
    rag_buf_reset(&b);
    CHECK_INT(rag_llm_request_json(&lc, m, 1, &b), 0);
    CHECK(strstr(b.data, "temperature") == NULL);
    CHECK(strstr(b.data, "max_tokens") == NULL);
    rag_buf_free(&b);

    rag_buf_init(&c, 0);
    {
        const char *ok = "{\"id\":\"x\",\"object\":\"chat.completion\","
                         "\"choices\":[{\"index\":0,\"message\":{\"role\":"
                         "\"assistant\",\"content\":\"Hi [1]\"},"
                         "\"finish_reason\":\"stop\"}]}";
        CHECK_INT(rag_llm_parse_response(ok, strlen(ok), &c, fin, sizeof(fin),
                                         err, sizeof(err)),
                  0);
        CHECK_STR(c.data, "Hi [1]");
        CHECK_STR(fin, "stop");
    }
    {
        static const char *bad[] = {
            "",
            "[]",
            "{\"choices\":[]}",
            "{\"choices\":[{}]}",
            "{\"choices\":[{\"message\":{\"content\":null}}]}",
            "{\"choices\":[{\"message\":{\"role\":\"user\","
            "\"content\":\"x\"}}]}",
            "{\"choices\":[{\"message\":{\"content\":\"x\"",
            NULL};
        for (int i = 0; bad[i]; i++) {
            rag_buf_reset(&c);
            CHECK_INT(rag_llm_parse_response(bad[i], strlen(bad[i]), &c, fin,
                                             sizeof(fin), err, sizeof(err)),
                      -1);
        }
    }
    rag_buf_free(&c);
}

int
main(void)
{
    RUN(test_cut);
    RUN(test_query);
    RUN(test_prompt);
    RUN(test_citations);
    RUN(test_texts);
    RUN(test_backoff);
    RUN(test_llm_json);
    UNIT_DONE();
}
