/*
 * test_bot_proto — WebSocket URL and handshake-response parsing, the
 * Sec-WebSocket-Accept computation (RFC 6455 example), gateway payload
 * parsing and close-code rules, IDENTIFY/RESUME shapes, the gateway
 * send limiter.
 */
#include "unit.h"

#include "../../bot/gateway.c"
#include "../../bot/ws.c"

static void
test_accept(void)
{
    char out[29];

    /* RFC 6455 section 1.3 */
    rag_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", out);
    CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_url(void)
{
    static const struct {
        const char *url;
        int rc, tls;
        const char *host, *port, *path;
    } t[] = {
        {"wss://gateway.discord.gg/?v=10&encoding=json", 0, 1,
         "gateway.discord.gg", "443", "/?v=10&encoding=json"},
        {"ws://127.0.0.1:8080/gw?v=10", 0, 0, "127.0.0.1", "8080", "/gw?v=10"},
        {"wss://h?x=1", 0, 1, "h", "443", "/?x=1"},
        {"wss://h", 0, 1, "h", "443", "/"},
        {"http://h/", -1, 0, "", "", ""},
        {"ws://:80/", -1, 0, "", "", ""},
        {"ws://h:999999/", -1, 0, "", "", ""},
        {"ws://h/a b", -1, 0, "", "", ""},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char host[64] = "", port[8] = "", path[128] = "";
        int tls = -1;
        int rc = rag_ws_parse_url(t[i].url, &tls, host, sizeof(host), port,
                                  sizeof(port), path, sizeof(path));
        CHECK_INT(rc, t[i].rc);
        if (rc == 0) {
            CHECK_INT(tls, t[i].tls);
            CHECK_STR(host, t[i].host);
            CHECK_STR(port, t[i].port);
            CHECK_STR(path, t[i].path);
        }
    }
}

static void
test_response(void)
{
    const char *acc = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    static const struct {
        const char *resp;
        long want; /* >0: header length, 0 need more, -1 bad */
    } t[] = {
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Accept: "
         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         129},
        /* case-insensitive names, token lists, trailing frame bytes */
        {"HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive,"
         " Upgrade\r\nsec-websocket-accept:s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
         "\r\n\r\n\x81\x02hi",
         121},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", 0},
        {"HTTP/1.1 400 Bad Request\r\n\r\n", -1},
        {"HTTP/1.1 1011 x\r\n\r\n", -1},
        {"HTTP/1.0 101 x\r\n\r\n", -1},
        {"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: AAAAPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         -1},
        {"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "\r\n",
         -1},
        {"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
         "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
         -1},
        {"HTTP/1.1 101 x\r\nno colon here\r\n\r\n", -1},
    };
    size_t i;
    char err[128];

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        long got = rag_ws_parse_response(t[i].resp, strlen(t[i].resp), acc, err,
                                         sizeof(err));
        if (t[i].want > 0)
            CHECK(got > 0 &&
                  got == (long)(strstr(t[i].resp, "\r\n\r\n") - t[i].resp + 4));
        else
            CHECK_INT(got, t[i].want);
    }
    /* oversized header block without an end */
    {
        static char big[RAG_WS_MAX_RESPONSE + 10];
        memset(big, 'a', sizeof(big));
        memcpy(big, "HTTP/1.1 101 x\r\n", 16);
        CHECK_INT(
            rag_ws_parse_response(big, sizeof(big), acc, err, sizeof(err)), -1);
    }
}

static void
test_gw_parse(void)
{
    rag_gw_msg m;
    const char *hello = "{\"op\":10,\"d\":{\"heartbeat_interval\":41250},"
                        "\"s\":null,\"t\":null}";
    const char *ready = "{\"op\":0,\"s\":1,\"t\":\"READY\",\"d\":{"
                        "\"session_id\":\"abc\",\"resume_gateway_url\":"
                        "\"wss://r.discord.gg\",\"user\":{\"id\":\"9\"}}}";

    CHECK_INT(rag_gw_parse(hello, strlen(hello), &m), 0);
    CHECK_INT(m.op, 10);
    CHECK_INT(m.heartbeat_interval, 41250);
    CHECK_INT(m.s, -1);
    CHECK_INT(rag_gw_parse(ready, strlen(ready), &m), 0);
    CHECK_INT(m.op, 0);
    CHECK_INT(m.s, 1);
    CHECK_STR(m.t, "READY");
    CHECK_STR(m.session_id, "abc");
    CHECK_STR(m.resume_url, "wss://r.discord.gg");
    CHECK_INT(rag_gw_parse("{\"op\":9,\"d\":true}", 17, &m), 0);
    CHECK_INT(m.d_true, 1);
    CHECK_INT(rag_gw_parse("{\"op\":9,\"d\":false}", 18, &m), 0);
    CHECK_INT(m.d_true, 0);
    CHECK_INT(rag_gw_parse("[1,2]", 5, &m), -1);
    CHECK_INT(rag_gw_parse("{\"op\":\"x\"}", 10, &m), -1);
    CHECK_INT(rag_gw_parse("{\"op\":1.5}", 10, &m), -1);
    CHECK_INT(rag_gw_parse("{\"op\":", 6, &m), -1);
    {
        const char *neg = "{\"op\":10,\"d\":{\"heartbeat_interval\":-5}}";
        CHECK_INT(rag_gw_parse(neg, strlen(neg), &m), 0);
    }
    CHECK_INT(m.heartbeat_interval, 0);
}

static void
test_close_codes(void)
{
    static const struct {
        int code, fatal, keep;
    } t[] = {
        {1000, 0, 0}, {1001, 0, 0}, {1006, 0, 1}, {4000, 0, 1}, {4004, 1, 0},
        {4007, 0, 0}, {4009, 0, 0}, {4010, 1, 0}, {4011, 1, 0}, {4012, 1, 0},
        {4013, 1, 0}, {4014, 1, 0}, {4008, 0, 1},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK_INT(rag_gw_close_is_fatal(t[i].code), t[i].fatal);
        CHECK_INT(rag_gw_close_keeps_session(t[i].code), t[i].keep);
    }
}

static void
test_payloads(void)
{
    rag_buf b;

    rag_buf_init(&b, 4096);
    CHECK_INT(rag_gw_identify_json(&b, "to\"k", RAG_GW_INTENTS, 0, 1), 0);
    CHECK_STR(b.data, "{\"op\":2,\"d\":{\"token\":\"to\\\"k\",\"intents\":"
                      "34305,\"properties\":{\"os\":\"linux\",\"browser\":"
                      "\"ngx_rag\",\"device\":\"ngx_rag\"}}}");
    CHECK_INT(rag_gw_identify_json(&b, "t", 1, 3, 4), 0);
    CHECK_STR(b.data, "{\"op\":2,\"d\":{\"token\":\"t\",\"shard\":[3,4],"
                      "\"intents\":1,\"properties\":{\"os\":\"linux\","
                      "\"browser\":\"ngx_rag\",\"device\":\"ngx_rag\"}}}");
    CHECK_INT(rag_gw_resume_json(&b, "t", "s1", 42), 0);
    CHECK_STR(b.data, "{\"op\":6,\"d\":{\"token\":\"t\",\"session_id\":"
                      "\"s1\",\"seq\":42}}");
    CHECK_INT(rag_gw_url(&b, "wss://gateway.discord.gg"), 0);
    CHECK_STR(b.data, "wss://gateway.discord.gg/?v=10&encoding=json");
    CHECK_INT(rag_gw_url(&b, "ws://127.0.0.1:5/gw"), 0);
    CHECK_STR(b.data, "ws://127.0.0.1:5/gw?v=10&encoding=json");
    CHECK_INT(rag_gw_url(&b, "wss://x/?v=10&encoding=json"), 0);
    CHECK_STR(b.data, "wss://x/?v=10&encoding=json");
    rag_buf_free(&b);
}

static void
test_limiter(void)
{
    rag_gw_limiter l;
    int i, ok = 0;

    memset(&l, 0, sizeof(l));
    for (i = 0; i < 130; i++)
        ok += rag_gw_limiter_take(&l, 1000 + i);
    CHECK_INT(ok, 120);
    CHECK_INT(rag_gw_limiter_take(&l, 60999), 0);
    CHECK_INT(rag_gw_limiter_take(&l, 61000), 1); /* oldest is 60 s old */
    CHECK_INT(rag_gw_limiter_take(&l, 61000), 0); /* next one is not */
    CHECK_INT(rag_gw_limiter_take(&l, 61001), 1);
    CHECK_INT(rag_gw_limiter_take(&l, 61001), 0);
}

int
main(void)
{
    RUN(test_accept);
    RUN(test_url);
    RUN(test_response);
    RUN(test_gw_parse);
    RUN(test_close_codes);
    RUN(test_payloads);
    RUN(test_limiter);
    UNIT_DONE();
}
