/*
 * test_bot_ratelimit — REST route keys (major ids literal, reactions
 * shared), bucket waits from X-RateLimit-* headers, shared buckets,
 * 429 retry_after (route and global), the 50/s global limit, the
 * invalid-request window, outbox error classification.
 */
#include "unit.h"

#include "../../bot/rest.c"
#include "../../bot/outbox.c"
#include "../../bot/embed.c"
#include "../../bot/bot.c"

static void
test_route_keys(void)
{
    static const struct {
        const char *m, *path, *want;
    } t[] = {
        {"POST", "/channels/123/messages", "POST /channels/123/messages"},
        {"PATCH", "/channels/123/messages/456",
         "PATCH /channels/123/messages/:id"},
        {"PUT", "/channels/1/messages/2/reactions/%E2%9C%85/@me",
         "PUT /channels/1/messages/:id/reactions"},
        {"PUT", "/channels/1/messages/3/reactions/%E2%9D%8C/@me",
         "PUT /channels/1/messages/:id/reactions"},
        {"PUT", "/applications/8/guilds/77/commands",
         "PUT /applications/:id/guilds/77/commands"},
        {"PATCH", "/webhooks/8/aW50ZXJhY3Rpb24/messages/@original",
         "PATCH /webhooks/8/aW50ZXJhY3Rpb24/messages/@original"},
        {"POST", "/interactions/55/tok/callback",
         "POST /interactions/:id/:token/callback"},
        {"GET", "/gateway/bot?x=1", "GET /gateway/bot"},
    };
    size_t i;
    char out[96];

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        rag_rl_route_key(t[i].m, t[i].path, out, sizeof(out));
        CHECK_STR(out, t[i].want);
    }
}

static void
test_buckets(void)
{
    static rag_rl rl;
    const char *r1 = "POST channels/1/messages",
               *r2 = "POST channels/2/messages";

    memset(&rl, 0, sizeof(rl));
    CHECK_INT(rag_rl_wait(&rl, r1, 100000), 0); /* unknown route */
    rag_rl_update(&rl, r1, "abc", "4", "2.5", 100000);
    CHECK_INT(rag_rl_wait(&rl, r1, 100000), 0); /* 4 left */
    rag_rl_update(&rl, r1, "abc", "0", "2.5", 100000);
    CHECK_INT(rag_rl_wait(&rl, r1, 100000), 2500); /* exhausted */
    CHECK_INT(rag_rl_wait(&rl, r1, 101000), 1500);
    CHECK_INT(rag_rl_wait(&rl, r1, 102600), 0); /* reset passed */
    /* another route learned to share bucket abc inherits its state */
    rag_rl_update(&rl, r2, "abc", "3", "9", 90000);
    CHECK_INT(rag_rl_wait(&rl, r2, 101000), 1500);
    /* 429 on a route */
    rag_rl_limited(&rl, r2, 1200, 0, 200000);
    CHECK_INT(rag_rl_wait(&rl, r2, 200000), 1200);
    CHECK_INT(rag_rl_wait(&rl, r1, 200000), 1200); /* same bucket */
    CHECK_INT(rag_rl_wait(&rl, "GET /channels/3", 200000), 0);
    /* global 429 blocks every route */
    rag_rl_limited(&rl, r2, 800, 1, 300000);
    CHECK_INT(rag_rl_wait(&rl, r1, 300100), 700);
    CHECK_INT(rag_rl_wait(&rl, "GET x", 300100), 700);
}

static void
test_global_rate(void)
{
    static rag_rl rl;
    int i;

    memset(&rl, 0, sizeof(rl));
    for (i = 0; i < 50; i++) {
        CHECK_INT(rag_rl_wait(&rl, "GET a", 500000 + i), 0);
        rag_rl_sent(&rl, 500000 + i);
    }
    /* the 51st inside the same second waits for the first to age out */
    CHECK_INT(rag_rl_wait(&rl, "GET a", 500100), 900);
    CHECK_INT(rag_rl_wait(&rl, "GET a", 501000), 0);
}

static void
test_retry_after(void)
{
    CHECK_INT(rag_rl_parse_retry_after("{\"message\":\"x\",\"retry_after\":"
                                       "1.5,\"global\":false}"),
              1500);
    CHECK_INT(rag_rl_parse_retry_after("{\"retry_after\":2}"), 2000);
    CHECK_INT(rag_rl_parse_retry_after("{\"retry_after\":0.0004}"), 0);
    CHECK_INT(rag_rl_parse_retry_after("{\"retry_after\":-1}"), -1);
    CHECK_INT(rag_rl_parse_retry_after("{}"), -1);
    CHECK_INT(rag_rl_parse_retry_after("not json"), -1);
    CHECK_INT(rag_rl_parse_retry_after(NULL), -1);
}

static void
test_invalid_window(void)
{
    static rag_rl rl;
    long t0 = 10000000, i, n = 0;

    memset(&rl, 0, sizeof(rl));
    for (i = 0; i < 100; i++)
        n = rag_rl_invalid(&rl, t0 + i * 1000, 1); /* one per second */
    CHECK_INT(n, 100);
    CHECK_INT(rag_rl_invalid(&rl, t0 + 100000, 0), 100);
    /* ten minutes after the first ones, they have dropped out */
    n = rag_rl_invalid(&rl, t0 + 600000 + 50000, 0);
    CHECK(n < 100 && n >= 40);
    CHECK_INT(rag_rl_invalid(&rl, t0 + 2000000, 0), 0);
}

static void
test_permanent(void)
{
    CHECK_INT(rag_outbox_permanent(404, 10003), 1);
    CHECK_INT(rag_outbox_permanent(403, 50001), 1);
    CHECK_INT(rag_outbox_permanent(400, 50035), 1);
    CHECK_INT(rag_outbox_permanent(429, 0), 0);
    CHECK_INT(rag_outbox_permanent(502, 0), 0);
    CHECK_INT(rag_outbox_permanent(0, 0), 0);
}

static void
test_classify(void)
{
    static const struct {
        long status;
        int code, permanent, gone;
        const char *failure;
    } t[] = {
        {404, 10003, 1, 1, "unknown_channel"},
        {403, 50001, 1, 1, "missing_access"},
        {404, 10008, 1, 0, "unknown_message"},
        {403, 50013, 1, 0, "missing_permissions"},
        {400, 50083, 1, 0, "archived_thread"},
        {403, 160005, 1, 0, "thread_locked"},
        {400, 50035, 1, 0, "invalid_request"},
        {400, 0, 1, 0, "invalid_request"},
        {404, 0, 1, 0, "not_found"},
        {403, 0, 1, 0, "forbidden"},
        {405, 0, 1, 0, "rejected"},
        {502, 0, 0, 0, "server_error"},
        {500, 10003, 0, 0, "server_error"}, /* a 5xx can heal */
        {429, 0, 0, 0, "rate_limited"},
        {401, 0, 0, 0, "unauthorized"},
        {0, 0, 0, 0, "no_response"},
    };
    rag_outbox_verdict v;
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        rag_outbox_classify(t[i].status, t[i].code, &v);
        CHECK_INT(v.permanent, t[i].permanent);
        CHECK_INT(v.channel_gone, t[i].gone);
        CHECK_STR(v.failure, t[i].failure);
    }
}

static void
test_describe(void)
{
    char out[160];

    CHECK_STR(
        rag_rest_describe(404, 10003, "Unknown Channel", out, sizeof(out)),
        "Unknown Channel (10003)");
    CHECK_STR(
        rag_rest_describe(400, 50035, "Invalid Form Body", out, sizeof(out)),
        "Invalid Form Body (50035)");
    CHECK_STR(rag_rest_describe(400, 12345, "Odd", out, sizeof(out)),
              "HTTP 400, code 12345: Odd");
    CHECK_STR(rag_rest_describe(502, 0, "", out, sizeof(out)), "HTTP 502");
    CHECK_STR(
        rag_rest_describe(0, 0, "Couldn't connect to server", out, sizeof(out)),
        "no response (Couldn't connect to server)");
    CHECK_STR(rag_rest_describe(0, 0, NULL, out, sizeof(out)),
              "no response (transport error)");
}

static void
test_web_base(void)
{
    char out[64];

    CHECK_INT(
        rag_bot_web_base(NULL, "https://discord.com/api/v10", out, sizeof(out)),
        0);
    CHECK_STR(out, "https://discord.com");
    CHECK_INT(
        rag_bot_web_base("", "http://127.0.0.1:4000/api/v10", out, sizeof(out)),
        0);
    CHECK_STR(out, "http://127.0.0.1:4000");
    CHECK_INT(
        rag_bot_web_base("https://ptb.discord.com/", "x", out, sizeof(out)), 0);
    CHECK_STR(out, "https://ptb.discord.com");
    CHECK_INT(rag_bot_web_base(NULL, "discord.com/api", out, sizeof(out)), -1);
    CHECK_INT(rag_bot_web_base("https://", "x", out, sizeof(out)), -1);
    CHECK_INT(rag_bot_web_base(NULL,
                               "https://a-very-long-host-name-that-"
                               "does-not-fit-in-the-buffer.example/api",
                               out, 16),
              -1);
}

int
main(void)
{
    RUN(test_route_keys);
    RUN(test_buckets);
    RUN(test_global_rate);
    RUN(test_retry_after);
    RUN(test_invalid_window);
    RUN(test_permanent);
    RUN(test_web_base);
    RUN(test_classify);
    RUN(test_describe);
    UNIT_DONE();
}
