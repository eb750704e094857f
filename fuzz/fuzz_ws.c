/*
 * fuzz_ws — the WebSocket client's untrusted input: the server's
 * handshake response (rag_ws_parse_response) and the frames after it
 * (wslay's client-side parser, fed through a recv callback).
 *
 * Input: first byte selects the split point between the two parts.
 */
#include "ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

typedef struct {
    const uint8_t *p;
    size_t len, off;
} feed;

static ssize_t
f_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
       void *ud)
{
    feed *f = ud;
    size_t n = f->len - f->off;

    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n > len)
        n = len;
    if (n > 7)
        n = 7; /* small reads exercise partial frames */
    memcpy(buf, f->p + f->off, n);
    f->off += n;
    return (ssize_t)n;
}

static ssize_t
f_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
       void *ud)
{
    return (ssize_t)len;
}

static int
f_mask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud)
{
    memset(buf, 0x5a, len);
    return 0;
}

static void
f_msg(wslay_event_context_ptr ctx,
      const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    volatile size_t sink = arg->msg_length;
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char accept[29], err[128];
    size_t split;
    feed f;
    wslay_event_context_ptr ctx;
    struct wslay_event_callbacks cbs = {f_recv, f_send, f_mask, NULL,
                                        NULL,   NULL,   f_msg};
    int i;

    if (size < 1)
        return 0;
    split = data[0] * size / 256;
    data++;
    size--;
    if (split > size)
        split = size;
    rag_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", accept);
    (void)rag_ws_parse_response((const char *)data, split, accept, err,
                                sizeof(err));
    f.p = data + split;
    f.len = size - split;
    f.off = 0;
    if (wslay_event_context_client_init(&ctx, &cbs, &f) != 0)
        return 0;
    wslay_event_config_set_max_recv_msg_length(ctx, 1 << 16);
    for (i = 0; i < 64 && f.off < f.len; i++) {
        if (wslay_event_recv(ctx) != 0)
            break;
        (void)wslay_event_send(ctx);
    }
    wslay_event_context_free(ctx);
    return 0;
}
