/*
 * test_svb — the Stream VByte codec: round trips at every length and
 * value width, the SIMD and scalar decoders agree, stream lengths from
 * control bytes, and byte-for-byte agreement with Debian's
 * libstreamvbyte (the format's reference implementation) both ways.
 */
#include "rag_svb.h"
#include "test_rng.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <streamvbyte.h>
#include <streamvbytedelta.h>

static test_rng rng = {0x2545f4914f6cdd1dull};

static uint32_t
rnd32(void)
{
    return (uint32_t)(test_rng_next(&rng) >> 16);
}

/* a value of 0-4 significant bytes */
static uint32_t
any_width(void)
{
    switch (rnd32() % 5) {
    case 0:
        return 0;
    case 1:
        return rnd32() & 0xff;
    case 2:
        return rnd32() & 0xffff;
    case 3:
        return rnd32() & 0xffffff;
    default:
        return rnd32();
    }
}

static void
test_roundtrip(void)
{
    enum { MAXN = 300 };
    uint32_t in[MAXN], gaps[MAXN], out[MAXN + 4], out2[MAXN + 4];
    uint8_t enc[RAG_SVB_MAX_BYTES(MAXN) + RAG_SVB_PAD];
    uint8_t ref[RAG_SVB_MAX_BYTES(MAXN) + RAG_SVB_PAD];
    int bad = 0;

    for (int round = 0; round < 2000; round++) {
        uint32_t n = (uint32_t)(round % (MAXN + 1));
        uint32_t prev = round % 3 ? rnd32() % 1000 : 0, acc = prev;
        size_t e, r;

        for (uint32_t i = 0; i < n; i++) {
            gaps[i] = any_width() >> (rnd32() % 8); /* gaps may be zero */
            acc += gaps[i];                         /* and may wrap */
            in[i] = acc;
        }
        /* doc-id gaps, 1234 */
        memset(enc, 0xee, sizeof(enc));
        e = rag_svb_encode_delta(in, n, prev, enc);
        r = streamvbyte_delta_encode(in, n, ref, prev);
        bad += e != r || memcmp(enc, ref, e) != 0;
        bad += e > RAG_SVB_MAX_BYTES(n);
        bad += rag_svb_stream_len(enc, n, RAG_SVB_1234) != e;
        memset(out, 0, sizeof(out));
        bad += rag_svb_decode_delta(enc, n, prev, out) != e;
        bad += memcmp(out, in, n * 4) != 0;
        bad += rag_svb_decode_delta_scalar(enc, n, prev, out2) != e;
        bad += memcmp(out2, in, n * 4) != 0;
        streamvbyte_delta_decode(enc, out2, n, prev);
        bad += memcmp(out2, in, n * 4) != 0;

        /* values, 0124 */
        for (uint32_t i = 0; i < n; i++)
            in[i] = rnd32() % 4 ? 0 : any_width();
        e = rag_svb_encode_0124(in, n, enc);
        r = streamvbyte_encode_0124(in, n, ref);
        bad += e != r || memcmp(enc, ref, e) != 0;
        bad += rag_svb_stream_len(enc, n, RAG_SVB_0124) != e;
        bad += rag_svb_decode_0124(enc, n, out) != e;
        bad += memcmp(out, in, n * 4) != 0;
        bad += rag_svb_decode_0124_scalar(enc, n, out2) != e;
        bad += memcmp(out2, in, n * 4) != 0;
        streamvbyte_decode_0124(enc, out2, n);
        bad += memcmp(out2, in, n * 4) != 0;
    }
    CHECK_INT(bad, 0);
}

static void
test_sizes(void)
{
    uint32_t z[8] = {0}, big[4] = {0xffffffffu, 1u << 24, 1u << 16, 255};
    uint8_t enc[64];

    /* zeros: one control byte per four, no data (0124); 1 byte each in
     * 1234 */
    CHECK_INT(rag_svb_encode_0124(z, 8, enc), 2);
    CHECK_INT(rag_svb_encode_delta(z, 8, 0, enc), 2 + 8);
    CHECK_INT(rag_svb_encode_0124(big, 4, enc), 1 + 4 + 4 + 4 + 1);
    CHECK_INT(enc[0], 3 | 3 << 2 | 3 << 4 | 1 << 6);
    CHECK_INT(rag_svb_encode_0124(big, 0, enc), 0);
}

int
main(void)
{
    RUN(test_roundtrip);
    RUN(test_sizes);
    UNIT_DONE();
}
