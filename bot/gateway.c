/*
 * gateway — Discord gateway session (see gateway.h).
 */
#include "gateway.h"
#include "ws.h"
#include "rag_time.h"

#include "rag_log.h"

#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yajl/yajl_tree.h>

#define HANDSHAKE_TIMEOUT_MS 15000
#define MAX_BACKOFF_MS 60000
#define CLOSE_RESUME 4000 /* our close code: keeps the session */

/* Uniform in [0,1). */
static double
rand01(void)
{
    uint32_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)rand();
    return (double)r / 4294967296.0;
}

int
rag_gw_parse(const char *json, size_t len, rag_gw_msg *m)
{
    char *copy, errbuf[128];
    yajl_val root = NULL, v, d;
    const char *op_p[] = {"op", NULL}, *s_p[] = {"s", NULL},
               *t_p[] = {"t", NULL}, *d_p[] = {"d", NULL},
               *hb_p[] = {"heartbeat_interval", NULL},
               *sid_p[] = {"session_id", NULL},
               *ru_p[] = {"resume_gateway_url", NULL};
    int rc = -1;

    memset(m, 0, sizeof(*m));
    m->op = -1;
    m->s = -1;
    if (len > RAG_WS_MAX_MSG)
        return -1;
    copy = malloc(len + 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, json, len);
    copy[len] = '\0';
    root = yajl_tree_parse(copy, errbuf, sizeof(errbuf));
    free(copy);
    if (root == NULL || !YAJL_IS_OBJECT(root))
        goto done;
    v = yajl_tree_get(root, op_p, yajl_t_number);
    if (v == NULL || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
        YAJL_GET_INTEGER(v) > 100)
        goto done;
    m->op = (int)YAJL_GET_INTEGER(v);
    v = yajl_tree_get(root, s_p, yajl_t_number);
    if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0)
        m->s = YAJL_GET_INTEGER(v);
    v = yajl_tree_get(root, t_p, yajl_t_string);
    if (v)
        snprintf(m->t, sizeof(m->t), "%s", YAJL_GET_STRING(v));
    d = yajl_tree_get(root, d_p, yajl_t_any);
    if (d && YAJL_IS_TRUE(d))
        m->d_true = 1;
    if (d && YAJL_IS_OBJECT(d)) {
        v = yajl_tree_get(d, hb_p, yajl_t_number);
        if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0 &&
            YAJL_GET_INTEGER(v) < 3600000)
            m->heartbeat_interval = (long)YAJL_GET_INTEGER(v);
        v = yajl_tree_get(d, sid_p, yajl_t_string);
        if (v)
            snprintf(m->session_id, sizeof(m->session_id), "%s",
                     YAJL_GET_STRING(v));
        v = yajl_tree_get(d, ru_p, yajl_t_string);
        if (v)
            snprintf(m->resume_url, sizeof(m->resume_url), "%s",
                     YAJL_GET_STRING(v));
    }
    rc = 0;
done:
    yajl_tree_free(root);
    return rc;
}

int
rag_gw_close_is_fatal(int code)
{
    return code == 4004 || (code >= 4010 && code <= 4014);
}

int
rag_gw_close_keeps_session(int code)
{
    return !(code == 1000 || code == 1001 || code == 4007 || code == 4009 ||
             rag_gw_close_is_fatal(code));
}

int
rag_gw_url(rag_buf *out, const char *url)
{
    const char *host = strstr(url, "://");

    rag_buf_reset(out);
    if (strchr(url, '?'))
        return rag_buf_puts(out, url);
    /* a bare host gets the "/" path, an explicit path is kept */
    return rag_buf_printf(out, "%s%s?v=10&encoding=json", url,
                          host && strchr(host + 3, '/') ? "" : "/");
}

int
rag_gw_identify_json(rag_buf *b, const char *token, unsigned intents,
                     int shard_id, int shard_count)
{
    rag_buf_reset(b);
    if (rag_buf_puts(b, "{\"op\":2,\"d\":{\"token\":") < 0 ||
        rag_buf_json_str(b, token, strlen(token)) < 0 ||
        (shard_count > 1 &&
         rag_buf_printf(b, ",\"shard\":[%d,%d]", shard_id, shard_count) < 0) ||
        rag_buf_printf(b,
                       ",\"intents\":%u,\"properties\":{\"os\":"
                       "\"linux\",\"browser\":\"ngx_rag\",\"device\":"
                       "\"ngx_rag\"}}}",
                       intents) < 0)
        return -1;
    return 0;
}

int
rag_gw_resume_json(rag_buf *b, const char *token, const char *session,
                   long long seq)
{
    rag_buf_reset(b);
    if (rag_buf_puts(b, "{\"op\":6,\"d\":{\"token\":") < 0 ||
        rag_buf_json_str(b, token, strlen(token)) < 0 ||
        rag_buf_puts(b, ",\"session_id\":") < 0 ||
        rag_buf_json_str(b, session, strlen(session)) < 0 ||
        rag_buf_printf(b, ",\"seq\":%lld}}", seq < 0 ? 0 : seq) < 0)
        return -1;
    return 0;
}

int
rag_gw_limiter_take(rag_gw_limiter *l, long now_ms)
{
    if (l->n == RAG_GW_MAX_SENDS) {
        /* the oldest of the last 120 sends must be 60 s old */
        if (now_ms - l->ring[l->head] < 60000)
            return 0;
        l->ring[l->head] = now_ms;
        l->head = (l->head + 1) % RAG_GW_MAX_SENDS;
        return 1;
    }
    l->ring[(l->head + l->n) % RAG_GW_MAX_SENDS] = now_ms;
    l->n++;
    return 1;
}

/* One connection's worth of state; the session survives connections. */
typedef struct {
    const rag_gw_conf *c;
    rag_ws *ws;
    rag_buf out;
    rag_gw_limiter lim;
    char session_id[128];
    char resume_url[512];
    long long seq;
    long hb_interval, next_hb;
    int acked;
    int identified;   /* sent IDENTIFY or RESUME on this connection */
    int reconnect;    /* leave this connection */
    int fresh;        /* drop the session before reconnecting */
    long wait_before; /* ms to wait before the next connect */
    int fatal;
} gw_state;

static int
gw_send(gw_state *g, int heartbeat)
{
    long now = rag_time_mono_ms();

    if (!rag_gw_limiter_take(&g->lim, now) && !heartbeat) {
        rag_warn("msg=\"gateway send limit reached, dropping send\"");
        return -1;
    }
    return rag_ws_send_text(g->ws, g->out.data, g->out.len);
}

static void
gw_heartbeat(gw_state *g)
{
    rag_buf_reset(&g->out);
    if (g->seq >= 0)
        rag_buf_printf(&g->out, "{\"op\":1,\"d\":%lld}", g->seq);
    else
        rag_buf_puts(&g->out, "{\"op\":1,\"d\":null}");
    gw_send(g, 1);
}

static void
gw_on_msg(void *ud, const uint8_t *data, size_t len)
{
    gw_state *g = ud;
    rag_gw_msg m;

    if (g->reconnect)
        return;
    if (rag_gw_parse((const char *)data, len, &m) < 0) {
        rag_warn("msg=\"gateway payload not understood\" len=%zu", len);
        return;
    }
    switch (m.op) {
    case 10: /* HELLO */
        if (m.heartbeat_interval <= 0) {
            rag_warn("msg=\"HELLO without heartbeat_interval\"");
            g->reconnect = 1;
            return;
        }
        g->hb_interval = m.heartbeat_interval;
        g->next_hb = rag_time_mono_ms() + (long)(g->hb_interval * rand01());
        g->acked = 1;
        if (g->session_id[0]) {
            rag_gw_resume_json(&g->out, g->c->token, g->session_id, g->seq);
            rag_info("msg=\"gateway resume\" seq=%lld", g->seq);
        } else {
            /* the shard's identify bucket, taken when the IDENTIFY
             * goes out (not before connecting: connects take time) */
            if (g->c->identify_gate &&
                g->c->identify_gate(g->c->gate_ud, g->c->shard_id) < 0) {
                g->reconnect = 1;
                return;
            }
            rag_gw_identify_json(&g->out, g->c->token, g->c->intents,
                                 g->c->shard_id, g->c->shard_count);
            rag_info("msg=\"gateway identify\" intents=%u shard=%d/%d",
                     g->c->intents, g->c->shard_id,
                     g->c->shard_count > 0 ? g->c->shard_count : 1);
        }
        gw_send(g, 0);
        g->identified = 1;
        break;
    case 11:
        g->acked = 1;
        break;
    case 1:
        gw_heartbeat(g);
        break;
    case 7:
        rag_info("msg=\"gateway asked to reconnect (op 7)\"");
        g->reconnect = 1;
        break;
    case 9:
        if (m.d_true) {
            rag_info("msg=\"invalid session, resumable\"");
        } else {
            rag_info("msg=\"invalid session, re-identifying\"");
            g->fresh = 1;
            g->wait_before = 1000 + (long)(4000 * rand01());
        }
        g->reconnect = 1;
        break;
    case 0:
        if (m.s >= 0)
            g->seq = m.s;
        if (strcmp(m.t, "READY") == 0) {
            snprintf(g->session_id, sizeof(g->session_id), "%s", m.session_id);
            snprintf(g->resume_url, sizeof(g->resume_url), "%s", m.resume_url);
            rag_info("msg=\"gateway ready\" session=%s", g->session_id);
        } else if (strcmp(m.t, "RESUMED") == 0) {
            rag_info("msg=\"gateway resumed\" seq=%lld", g->seq);
        }
        if (g->c->on_event)
            g->c->on_event(g->c->ud, (const char *)data, len);
        break;
    default:
        rag_debug("msg=\"gateway op ignored\" op=%d", m.op);
    }
}

/* Runs one connection until it ends. */
static void
gw_connection(gw_state *g, const char *url)
{
    char err[256];

    g->reconnect = 0;
    g->identified = 0;
    g->hb_interval = 0;
    g->ws = rag_ws_connect(url, g->c->ca_file, HANDSHAKE_TIMEOUT_MS, gw_on_msg,
                           g, err, sizeof(err));
    if (g->ws == NULL) {
        rag_warn("msg=\"gateway connect failed\" error=\"%s\"", err);
        return;
    }
    memset(&g->lim, 0, sizeof(g->lim));
    rag_info("msg=\"gateway connected\"");
    while (!*g->c->stop && !g->reconnect) {
        struct pollfd pfd;
        long now = rag_time_mono_ms(), timeout = 250;
        int n;

        if (g->hb_interval > 0) {
            if (now >= g->next_hb) {
                if (!g->acked) {
                    rag_warn("msg=\"no heartbeat ACK: zombie connection, "
                             "reconnecting\"");
                    g->reconnect = 1;
                    break;
                }
                gw_heartbeat(g);
                g->acked = 0;
                g->next_hb = now + g->hb_interval;
            }
            if (g->next_hb - now < timeout)
                timeout = g->next_hb - now;
        }
        if (rag_ws_has_pending(g->ws))
            timeout = 0;
        pfd.fd = rag_ws_fd(g->ws);
        pfd.events = rag_ws_poll_events(g->ws);
        pfd.revents = 0;
        n = poll(&pfd, 1, (int)(timeout < 0 ? 0 : timeout));
        if (n < 0)
            continue;
        if (rag_ws_io(g->ws) < 0) {
            int code = rag_ws_peer_close_code(g->ws);
            if (code && rag_gw_close_is_fatal(code)) {
                rag_error("msg=\"gateway closed with fatal code, stopping"
                          "\" code=%d reason=\"%s\"",
                          code,
                          code == 4004   ? "authentication failed"
                          : code == 4014 ? "disallowed intents (enable "
                                           "MESSAGE_CONTENT)"
                          : code == 4013 ? "invalid intents"
                          : code == 4012 ? "invalid API version"
                          : code == 4011 ? "sharding required"
                                         : "invalid shard");
                g->fatal = code == 4011 ? 3 : 1;
            } else {
                rag_warn("msg=\"gateway connection ended\" code=%d", code);
                if (code && !rag_gw_close_keeps_session(code))
                    g->fresh = 1;
            }
            break;
        }
    }
    if (g->reconnect && !g->fatal) {
        /* a non-1000/1001 code keeps the session resumable */
        rag_ws_close(g->ws, *g->c->stop ? 1000 : CLOSE_RESUME);
        (void)rag_ws_io(g->ws);
    } else if (*g->c->stop) {
        rag_ws_close(g->ws, 1000);
        (void)rag_ws_io(g->ws);
    }
    rag_ws_free(g->ws);
    g->ws = NULL;
}

int
rag_gw_run(const rag_gw_conf *c)
{
    gw_state g;
    rag_buf url;
    int fails = 0;
    long base = c->backoff_ms > 0 ? c->backoff_ms : 1000;

    memset(&g, 0, sizeof(g));
    g.c = c;
    g.seq = -1;
    rag_buf_init(&g.out, 1 << 16);
    rag_buf_init(&url, 4096);
    while (!*c->stop && !g.fatal) {
        int had_session = g.session_id[0] != '\0';
        const char *u = had_session && g.resume_url[0] ? g.resume_url : c->url;
        if (rag_gw_url(&url, u) < 0)
            break;
        gw_connection(&g, url.data);
        if (*c->stop || g.fatal)
            break;
        if (g.fresh) {
            g.session_id[0] = '\0';
            g.resume_url[0] = '\0';
            g.seq = -1;
            g.fresh = 0;
        }
        if (g.identified && g.hb_interval > 0 && g.session_id[0])
            fails = 0; /* the connection worked */
        else
            fails++;
        if (g.wait_before == 0) {
            long cap = base << (fails < 6 ? fails : 6);
            if (cap > MAX_BACKOFF_MS)
                cap = MAX_BACKOFF_MS;
            g.wait_before = (long)(cap * (0.5 + rand01() / 2));
            if (fails == 0)
                g.wait_before = (long)(base * rand01());
        }
        rag_info("msg=\"gateway reconnecting\" delay_ms=%ld resume=%d",
                 g.wait_before, g.session_id[0] != '\0');
        rag_time_sleep_until_stop(g.wait_before, c->stop);
        g.wait_before = 0;
    }
    rag_buf_free(&g.out);
    rag_buf_free(&url);
    return g.fatal == 3 ? 3 : g.fatal ? 2 : 0;
}
