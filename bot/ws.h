/*
 * ws — one WebSocket client connection (RFC 6455) for the gateway:
 * non-blocking TCP, TLS through OpenSSL for wss:// (SNI, verification
 * against the system store plus an optional extra CA file), plain TCP for
 * ws:// (tests), our own HTTP/1.1 Upgrade handshake, and wslay for the
 * framing.
 *
 * The rag_ws owns its socket, SSL objects and wslay context; received
 * text messages are handed to the callback and stay owned by wslay (copy
 * what you keep). Not thread-safe: one thread drives a connection.
 */
#ifndef RAG_BOT_WS_H
#define RAG_BOT_WS_H

#include <stddef.h>
#include <stdint.h>

#define RAG_WS_MAX_MSG (4u << 20) /* largest message we accept */
#define RAG_WS_MAX_RESPONSE 8192  /* handshake response headers */

typedef struct rag_ws rag_ws;

/* Called for every complete text or binary message. */
typedef void (*rag_ws_msg_cb)(void *ud, const uint8_t *data, size_t len);

/* Connects and completes the Upgrade handshake within timeout_ms.
 * ca_file may be NULL. Returns NULL and fills err on failure. */
rag_ws *rag_ws_connect(const char *url, const char *ca_file, long timeout_ms,
                       rag_ws_msg_cb cb, void *ud, char *err, size_t errlen);

int rag_ws_fd(const rag_ws *ws);
/* Events to poll for (POLLIN | POLLOUT). */
short rag_ws_poll_events(const rag_ws *ws);
/* 1 when TLS holds decrypted bytes that poll() cannot see. */
int rag_ws_has_pending(const rag_ws *ws);
/* Reads and writes what it can; -1 when the connection is finished
 * (closed by either side or failed). */
int rag_ws_io(rag_ws *ws);
/* Queues a text message (sent by the next rag_ws_io); 0 or -1. */
int rag_ws_send_text(rag_ws *ws, const char *data, size_t len);
/* Queues a close frame with code (sent by the next rag_ws_io). */
int rag_ws_close(rag_ws *ws, uint16_t code);
/* Close code sent by the peer, 0 if none (dropped connection). */
uint16_t rag_ws_peer_close_code(const rag_ws *ws);
void rag_ws_free(rag_ws *ws);

/* --- pure helpers (unit tests, fuzzing) ------------------------------ */

/* Splits ws://host[:port]/path?q or wss://...; returns 0 or -1. */
int rag_ws_parse_url(const char *url, int *tls, char *host, size_t hostlen,
                     char *port, size_t portlen, char *path, size_t pathlen);

/* base64(SHA1(key + GUID)) into out (29 bytes with the NUL). */
void rag_ws_accept_for(const char *key, char out[29]);

/* Parses a handshake response in buf[0..len). Returns the header length
 * (> 0) when complete and valid (101, Upgrade: websocket, Connection:
 * upgrade, matching Sec-WebSocket-Accept, no extensions), 0 when more
 * bytes are needed, -1 on an invalid or oversized response (err says
 * why). */
long rag_ws_parse_response(const char *buf, size_t len,
                           const char *expect_accept, char *err, size_t errlen);

#endif
