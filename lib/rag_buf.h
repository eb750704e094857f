/*
 * rag_buf — a growable byte buffer with a hard size limit.
 *
 * Every external input in ngx_rag lands in one of these, so every buffer
 * has a ceiling (max) chosen by its owner. The data is always
 * NUL-terminated so it can be handed to C string APIs. The caller owns
 * the struct; rag_buf_free() releases the storage.
 */
#ifndef RAG_BUF_H
#define RAG_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard ceiling for len; 0 means 64 MiB */
} rag_buf;

void rag_buf_init(rag_buf *b, size_t max);
void rag_buf_free(rag_buf *b);
void rag_buf_reset(rag_buf *b); /* len = 0, storage kept */

/* All return 0, or -1 if the append would pass max or memory ran out
 * (the buffer is then unchanged). */
int rag_buf_append(rag_buf *b, const void *p, size_t n);
int rag_buf_puts(rag_buf *b, const char *s);
int rag_buf_putc(rag_buf *b, char c);
int rag_buf_printf(rag_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int rag_buf_vprintf(rag_buf *b, const char *fmt, va_list ap);

/* Appends v as printf("%.6g") would, byte for byte, mostly without
 * printf (several times faster: /search prints three doubles a hit). */
int rag_buf_put_g6(rag_buf *b, double v);

/* Appends s as a JSON string literal, quotes included. Invalid UTF-8
 * bytes are replaced with U+FFFD so the output is always valid JSON. */
int rag_buf_json_str(rag_buf *b, const char *s, size_t n);

/* Hands the storage to the caller (free() it); the buffer becomes empty.
 * Returns an empty allocated string if nothing was appended. */
char *rag_buf_detach(rag_buf *b);

#endif
