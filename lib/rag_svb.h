/*
 * rag_svb — Stream VByte integer codec (Lemire, Kurz and Rupp, "Stream
 * VByte: faster byte-oriented integer compression", 2017), byte for byte
 * the format of libstreamvbyte 0.4: n values are stored as ceil(n/4)
 * control bytes (2 bits per value, the first value in the low bits)
 * followed by the data bytes, little-endian.
 *
 *   "1234"  code c: the value takes c + 1 bytes (doc-id gaps)
 *   "0124"  code c: 0, 1, 2 or 4 bytes; zero costs no data byte
 *           (term frequencies minus one, mostly zero)
 *
 * Why not link libstreamvbyte: Debian builds it for baseline x86-64
 * without its SIMD paths (no pshufb in libstreamvbyte.so.0), and its
 * scalar decoder runs at 0.11-0.18 G values/s on this machine, too slow
 * for the search's hot loop; this decoder uses SSSE3 shuffles (runtime
 * check, scalar fallback elsewhere). The unit test checks both
 * directions against libstreamvbyte, so the format cannot drift.
 *
 * Decoders may read up to RAG_SVB_PAD bytes past the end of a stream:
 * callers keep that many readable bytes after the last stream.
 * Stateless, thread-safe.
 */
#ifndef RAG_SVB_H
#define RAG_SVB_H

#include <stddef.h>
#include <stdint.h>

#define RAG_SVB_PAD 16
#define RAG_SVB_MAX_BYTES(n) (((size_t)(n) + 3) / 4 + 4 * (size_t)(n))

enum rag_svb_kind { RAG_SVB_1234 = 0, RAG_SVB_0124 = 1 };

/* Encodes in[0..n) as gaps from prev (in[0] - prev, in[1] - in[0], ...;
 * in must be non-decreasing from prev) in the 1234 format. Returns the
 * bytes written (at most RAG_SVB_MAX_BYTES(n)). */
size_t rag_svb_encode_delta(const uint32_t *in, uint32_t n, uint32_t prev,
                            uint8_t *out);

/* Encodes in[0..n) in the 0124 format. Returns the bytes written. */
size_t rag_svb_encode_0124(const uint32_t *in, uint32_t n, uint8_t *out);

/* Total length (control + data bytes) of a stream of n values whose
 * control bytes start at in; reads only the ceil(n/4) control bytes. */
size_t rag_svb_stream_len(const uint8_t *in, uint32_t n,
                          enum rag_svb_kind kind);

/* Decodes n gaps (1234) into running sums from prev. Returns the bytes
 * read. */
size_t rag_svb_decode_delta(const uint8_t *in, uint32_t n, uint32_t prev,
                            uint32_t *out);

/* Decodes n values (0124). Returns the bytes read. */
size_t rag_svb_decode_0124(const uint8_t *in, uint32_t n, uint32_t *out);

/* The portable decoders, for tests and the codec bench. */
size_t rag_svb_decode_delta_scalar(const uint8_t *in, uint32_t n, uint32_t prev,
                                   uint32_t *out);
size_t rag_svb_decode_0124_scalar(const uint8_t *in, uint32_t n, uint32_t *out);

#endif
