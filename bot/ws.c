/*
 * ws — WebSocket client over a non-blocking socket (see ws.h).
 */
#include "ws.h"
#include "rag_time.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct rag_ws {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    wslay_event_context_ptr wctx;
    rag_ws_msg_cb cb;
    void *ud;
    /* bytes that arrived after the handshake headers */
    uint8_t *left;
    size_t left_len, left_off;
    uint16_t peer_code;
    int failed;
};

int
rag_ws_parse_url(const char *url, int *tls, char *host, size_t hostlen,
                 char *port, size_t portlen, char *path, size_t pathlen)
{
    const char *p, *hs, *he, *ps;
    size_t n;

    if (strncmp(url, "wss://", 6) == 0) {
        *tls = 1;
        p = url + 6;
    } else if (strncmp(url, "ws://", 5) == 0) {
        *tls = 0;
        p = url + 5;
    } else {
        return -1;
    }
    hs = p;
    he = hs + strcspn(hs, ":/?");
    n = (size_t)(he - hs);
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, hs, n);
    host[n] = '\0';
    p = he;
    if (*p == ':') {
        ps = ++p;
        p += strspn(p, "0123456789");
        n = (size_t)(p - ps);
        if (n == 0 || n > 5 || n >= portlen)
            return -1;
        memcpy(port, ps, n);
        port[n] = '\0';
    } else {
        if (snprintf(port, portlen, "%s", *tls ? "443" : "80") >= (int)portlen)
            return -1;
    }
    if (*p == '\0') {
        p = "/";
    } else if (*p == '?') {
        if (snprintf(path, pathlen, "/%s", p) >= (int)pathlen)
            return -1;
        return 0;
    } else if (*p != '/') {
        return -1;
    }
    if (strlen(p) >= pathlen || strpbrk(p, " \r\n"))
        return -1;
    strcpy(path, p);
    return 0;
}

void
rag_ws_accept_for(const char *key, char out[29])
{
    unsigned char md[SHA_DIGEST_LENGTH], in[128 + sizeof(WS_GUID)];
    size_t kl = strnlen(key, 128);

    memcpy(in, key, kl);
    memcpy(in + kl, WS_GUID, sizeof(WS_GUID) - 1);
    SHA1(in, kl + sizeof(WS_GUID) - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

/* Case-insensitive search for token in a comma-separated header value. */
static int
header_has_token(const char *v, size_t vlen, const char *tok)
{
    size_t tl = strlen(tok), i = 0;

    while (i < vlen) {
        size_t s, e;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < vlen && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

long
rag_ws_parse_response(const char *buf, size_t len, const char *expect_accept,
                      char *err, size_t errlen)
{
    const char *end = NULL, *p, *eol;
    size_t i, hdr_len;
    int upgrade = 0, connection = 0, accept = 0;

    for (i = 0; i + 3 < len && i + 4 <= RAG_WS_MAX_RESPONSE; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
            buf[i + 3] == '\n') {
            end = buf + i;
            break;
        }
    }
    if (end == NULL) {
        if (len >= RAG_WS_MAX_RESPONSE) {
            snprintf(err, errlen, "handshake response too large");
            return -1;
        }
        return 0;
    }
    hdr_len = (size_t)(end - buf) + 4;

    /* status line: HTTP/1.1 101 ... */
    eol = memchr(buf, '\r', (size_t)(end - buf) + 1);
    if (eol == NULL || eol - buf < 12 || strncmp(buf, "HTTP/1.1 ", 9) != 0) {
        snprintf(err, errlen, "bad status line");
        return -1;
    }
    if (strncmp(buf + 9, "101", 3) != 0 || (eol - buf > 12 && buf[12] != ' ')) {
        snprintf(err, errlen, "status %.3s, not 101", buf + 9);
        return -1;
    }
    p = eol + 2;
    while (p < end + 2 && p < end) {
        const char *colon, *v;
        size_t nlen, vlen;

        eol = memchr(p, '\r', (size_t)(end - p) + 1);
        if (eol == NULL || eol[1] != '\n') {
            snprintf(err, errlen, "bad header line");
            return -1;
        }
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p) {
            snprintf(err, errlen, "bad header line");
            return -1;
        }
        nlen = (size_t)(colon - p);
        v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        vlen = (size_t)(eol - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
#define HN(s) (nlen == sizeof(s) - 1 && strncasecmp(p, s, nlen) == 0)
        if (HN("Upgrade")) {
            upgrade = header_has_token(v, vlen, "websocket");
        } else if (HN("Connection")) {
            connection = header_has_token(v, vlen, "upgrade");
        } else if (HN("Sec-WebSocket-Accept")) {
            accept = vlen == strlen(expect_accept) &&
                     memcmp(v, expect_accept, vlen) == 0;
            if (!accept) {
                snprintf(err, errlen, "Sec-WebSocket-Accept mismatch");
                return -1;
            }
        } else if (HN("Sec-WebSocket-Extensions")) {
            if (vlen) {
                snprintf(err, errlen, "unrequested extension");
                return -1;
            }
        }
#undef HN
        p = eol + 2;
    }
    if (!upgrade || !connection || !accept) {
        snprintf(err, errlen, "missing %s header",
                 !upgrade      ? "Upgrade"
                 : !connection ? "Connection"
                               : "Sec-WebSocket-Accept");
        return -1;
    }
    return (long)hdr_len;
}

static int
wait_fd(int fd, short ev, long deadline)
{
    struct pollfd pfd = {.fd = fd, .events = ev};
    long left = deadline - rag_time_mono_ms();
    int n;

    if (left <= 0)
        return -1;
    do {
        n = poll(&pfd, 1, (int)left);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : -1;
}

static int
tcp_connect(const char *host, const char *port, long deadline, char *err,
            size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
            soerr == 0)
            break;
        snprintf(err, errlen, "connect %s:%s: %s", host, port,
                 strerror(soerr   ? soerr
                          : errno ? errno
                                  : ETIMEDOUT));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Raw transport, used by the handshake and by the wslay callbacks.
 * Returns bytes, 0 on EOF, -1 on error, -2 on would-block. */
static ssize_t
raw_read(rag_ws *ws, void *buf, size_t len)
{
    if (ws->ssl) {
        int n = SSL_read(ws->ssl, buf, (int)len), e;
        if (n > 0)
            return n;
        e = SSL_get_error(ws->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -2;
        return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    } else {
        ssize_t n = recv(ws->fd, buf, len, 0);
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                       ? -2
                       : -1;
        return n;
    }
}

static ssize_t
raw_write(rag_ws *ws, const void *buf, size_t len)
{
    if (ws->ssl) {
        int n = SSL_write(ws->ssl, buf, (int)len), e;
        if (n > 0)
            return n;
        e = SSL_get_error(ws->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -2;
        return -1;
    } else {
        ssize_t n = send(ws->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                       ? -2
                       : -1;
        return n;
    }
}

static int
tls_start(rag_ws *ws, const char *host, const char *ca_file, long deadline,
          char *err, size_t errlen)
{
    X509_VERIFY_PARAM *vp;

    ws->ctx = SSL_CTX_new(TLS_client_method());
    if (ws->ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ws->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ws->ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_default_verify_paths(ws->ctx) != 1)
        goto fail;
    if (ca_file && *ca_file &&
        SSL_CTX_load_verify_locations(ws->ctx, ca_file, NULL) != 1) {
        snprintf(err, errlen, "cannot load CA file");
        return -1;
    }
    ws->ssl = SSL_new(ws->ctx);
    if (ws->ssl == NULL || SSL_set_fd(ws->ssl, ws->fd) != 1)
        goto fail;
    SSL_set_tlsext_host_name(ws->ssl, host);
    vp = SSL_get0_param(ws->ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1)
        goto fail;
    for (;;) {
        int rc = SSL_connect(ws->ssl), e;
        if (rc == 1)
            return 0;
        e = SSL_get_error(ws->ssl, rc);
        if (e == SSL_ERROR_WANT_READ) {
            if (wait_fd(ws->fd, POLLIN, deadline) < 0)
                break;
        } else if (e == SSL_ERROR_WANT_WRITE) {
            if (wait_fd(ws->fd, POLLOUT, deadline) < 0)
                break;
        } else {
            long vr = SSL_get_verify_result(ws->ssl);
            snprintf(err, errlen, "TLS handshake failed: %s",
                     vr != X509_V_OK
                         ? X509_verify_cert_error_string(vr)
                         : ERR_reason_error_string(ERR_get_error()));
            return -1;
        }
    }
    snprintf(err, errlen, "TLS handshake timed out");
    return -1;
fail:
    snprintf(err, errlen, "TLS setup failed");
    return -1;
}

static int
handshake(rag_ws *ws, const char *host, const char *port, const char *path,
          int tls, long deadline, char *err, size_t errlen)
{
    unsigned char nonce[16];
    char key[25], accept[29], req[2048], resp[RAG_WS_MAX_RESPONSE];
    size_t off = 0, rlen = 0;
    int n;
    long hl;
    int default_port = strcmp(port, tls ? "443" : "80") == 0;

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        snprintf(err, errlen, "RAND_bytes failed");
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce));
    rag_ws_accept_for(key, accept);
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s%s%s\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                 "User-Agent: DiscordBot (https://github.com/ngx_rag, 0.1)"
                 "\r\n\r\n",
                 path, host, default_port ? "" : ":", default_port ? "" : port,
                 key);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        snprintf(err, errlen, "request too long");
        return -1;
    }
    while (off < (size_t)n) {
        ssize_t w = raw_write(ws, req + off, (size_t)n - off);
        if (w == -1) {
            snprintf(err, errlen, "handshake write failed");
            return -1;
        }
        if (w == -2) {
            if (wait_fd(ws->fd, POLLOUT | POLLIN, deadline) < 0)
                goto timeout;
            continue;
        }
        off += (size_t)w;
    }
    for (;;) {
        ssize_t r;
        if (rlen == sizeof(resp)) {
            snprintf(err, errlen, "handshake response too large");
            return -1;
        }
        r = raw_read(ws, resp + rlen, sizeof(resp) - rlen);
        if (r == 0 || r == -1) {
            snprintf(err, errlen, "connection closed during handshake");
            return -1;
        }
        if (r == -2) {
            if (wait_fd(ws->fd, POLLIN, deadline) < 0)
                goto timeout;
            continue;
        }
        rlen += (size_t)r;
        hl = rag_ws_parse_response(resp, rlen, accept, err, errlen);
        if (hl < 0)
            return -1;
        if (hl > 0)
            break;
    }
    if ((size_t)hl < rlen) {
        ws->left_len = rlen - (size_t)hl;
        ws->left = malloc(ws->left_len);
        if (ws->left == NULL)
            return -1;
        memcpy(ws->left, resp + hl, ws->left_len);
    }
    return 0;
timeout:
    snprintf(err, errlen, "handshake timed out");
    return -1;
}

static ssize_t
cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
        void *ud)
{
    rag_ws *ws = ud;
    ssize_t r;

    if (ws->left && ws->left_off < ws->left_len) {
        size_t n = ws->left_len - ws->left_off;
        if (n > len)
            n = len;
        memcpy(buf, ws->left + ws->left_off, n);
        ws->left_off += n;
        return (ssize_t)n;
    }
    r = raw_read(ws, buf, len);
    if (r == -2) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r <= 0) {
        ws->failed = 1;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static ssize_t
cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
        void *ud)
{
    rag_ws *ws = ud;
    ssize_t r = raw_write(ws, data, len);

    if (r == -2) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (r < 0) {
        ws->failed = 1;
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return r;
}

static int
cb_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void
cb_msg(wslay_event_context_ptr ctx,
       const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    rag_ws *ws = ud;

    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        ws->peer_code = arg->status_code;
        return;
    }
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME)
        ws->cb(ws->ud, arg->msg, arg->msg_length);
}

rag_ws *
rag_ws_connect(const char *url, const char *ca_file, long timeout_ms,
               rag_ws_msg_cb cb, void *ud, char *err, size_t errlen)
{
    char host[256], port[8], path[1024];
    int tls;
    long deadline = rag_time_mono_ms() + timeout_ms;
    rag_ws *ws = NULL;
    struct wslay_event_callbacks cbs = {cb_recv, cb_send, cb_genmask, NULL,
                                        NULL,    NULL,    cb_msg};

    if (rag_ws_parse_url(url, &tls, host, sizeof(host), port, sizeof(port),
                         path, sizeof(path)) < 0) {
        snprintf(err, errlen, "bad websocket url");
        return NULL;
    }
    ws = calloc(1, sizeof(*ws));
    if (ws == NULL)
        return NULL;
    ws->cb = cb;
    ws->ud = ud;
    ws->fd = tcp_connect(host, port, deadline, err, errlen);
    if (ws->fd < 0)
        goto fail;
    if (tls && tls_start(ws, host, ca_file, deadline, err, errlen) < 0)
        goto fail;
    if (handshake(ws, host, port, path, tls, deadline, err, errlen) < 0)
        goto fail;
    if (wslay_event_context_client_init(&ws->wctx, &cbs, ws) != 0) {
        snprintf(err, errlen, "wslay init failed");
        goto fail;
    }
    wslay_event_config_set_max_recv_msg_length(ws->wctx, RAG_WS_MAX_MSG);
    return ws;
fail:
    rag_ws_free(ws);
    return NULL;
}

int
rag_ws_fd(const rag_ws *ws)
{
    return ws->fd;
}

short
rag_ws_poll_events(const rag_ws *ws)
{
    short ev = 0;

    if (wslay_event_want_read(ws->wctx))
        ev |= POLLIN;
    if (wslay_event_want_write(ws->wctx))
        ev |= POLLOUT;
    return ev;
}

int
rag_ws_has_pending(const rag_ws *ws)
{
    return (ws->ssl && SSL_pending(ws->ssl) > 0) ||
           (ws->left && ws->left_off < ws->left_len);
}

int
rag_ws_io(rag_ws *ws)
{
    if (wslay_event_want_read(ws->wctx) && wslay_event_recv(ws->wctx) != 0)
        return -1;
    if (wslay_event_want_write(ws->wctx) && wslay_event_send(ws->wctx) != 0)
        return -1;
    if (ws->failed)
        return -1;
    if (!wslay_event_want_read(ws->wctx) && !wslay_event_want_write(ws->wctx))
        return -1;
    return 0;
}

int
rag_ws_send_text(rag_ws *ws, const char *data, size_t len)
{
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)data, len};

    /* only queued: this may run inside the receive callback; the next
     * rag_ws_io() writes it */
    return wslay_event_queue_msg(ws->wctx, &m) == 0 ? 0 : -1;
}

int
rag_ws_close(rag_ws *ws, uint16_t code)
{
    return wslay_event_queue_close(ws->wctx, code, NULL, 0) == 0 ? 0 : -1;
}

uint16_t
rag_ws_peer_close_code(const rag_ws *ws)
{
    return ws->peer_code;
}

void
rag_ws_free(rag_ws *ws)
{
    if (ws == NULL)
        return;
    if (ws->wctx)
        wslay_event_context_free(ws->wctx);
    if (ws->ssl) {
        SSL_shutdown(ws->ssl);
        SSL_free(ws->ssl);
    }
    if (ws->ctx)
        SSL_CTX_free(ws->ctx);
    if (ws->fd >= 0)
        close(ws->fd);
    free(ws->left);
    free(ws);
}
