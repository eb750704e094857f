/*
 * postings_codec — the postings codec choice, measured on a real index:
 * every term's doc ids and term frequencies are decoded from INDEX and
 * re-encoded in 128-posting blocks with each candidate, then decoded
 * again and again; prints bytes per posting and decode speed
 * (postings/s, doc ids + tfs) for:
 *
 *   raw u32        8 bytes per posting, as format 1 stored them
 *   LEB128 varint  gaps and tfs, one byte per 7 bits, scalar
 *   streamvbyte    Debian's libstreamvbyte 0.4 (gaps 1234, tf-1 0124)
 *   rag_svb scalar the same bytes, this tree's portable decoder
 *   rag_svb SSSE3  the same bytes, this tree's shuffle decoder (used)
 *
 *   bench/postings_codec.sh INDEX
 */
#include "rag_index.h"
#include "rag_svb.h"

#include <stdio.h>
#include <stdlib.h>
#include <streamvbyte.h>
#include <streamvbytedelta.h>
#include <string.h>
#include <time.h>

#define BLK RAG_POSTINGS_BLOCK

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    uint32_t n, prev;
    size_t off; /* into the encoded buffer */
    size_t tfoff;
} blk;

static size_t
leb_put(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static const uint8_t *
leb_get(const uint8_t *p, uint32_t *v)
{
    uint32_t x = 0;
    int s = 0;
    while (*p & 0x80) {
        x |= (uint32_t)(*p++ & 0x7f) << s;
        s += 7;
    }
    *v = x | (uint32_t)*p++ << s;
    return p;
}

int
main(int argc, char **argv)
{
    char err[256];
    rag_index *ix;
    uint32_t *docs, *tfs, nb = 0;
    uint64_t np = 0;
    blk *b;

    if (argc != 2) {
        fprintf(stderr, "usage: %s INDEX\n", argv[0]);
        return 2;
    }
    ix = rag_index_open(argv[1], err, sizeof(err));
    if (ix == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* the reader looks terms up by text: take the postings of the
     * distinct words (up to 4000) of the first records' bodies */
    fprintf(stderr, "collecting postings...\n");
    size_t cap = 1 << 20, n = 0, ncap = 1 << 16;
    docs = malloc(cap * 4);
    tfs = malloc(cap * 4);
    b = malloc(ncap * sizeof(blk));
    {
        /* distinct words from the first records */
        char **words = NULL;
        size_t nw = 0, wcap = 0;
        uint32_t lim =
            rag_index_count(ix) < 20000 ? rag_index_count(ix) : 20000;
        rag_index_buf zb = {NULL, 0, NULL};
        for (uint32_t r = 0; r < lim && nw < 4000; r++) {
            rag_str body;
            if (rag_index_chunk_body(ix, r, &zb, &body) != 0)
                continue;
            const char *p = body.p, *e = p + body.len;
            while (p < e && nw < 4000) {
                while (p < e && !(*p >= 'a' && *p <= 'z'))
                    p++;
                const char *s = p;
                while (p < e && *p >= 'a' && *p <= 'z')
                    p++;
                if (p - s < 3 || p - s > 20)
                    continue;
                rag_postings pl;
                if (rag_index_term(ix, s, (size_t)(p - s), &pl) != 0)
                    continue;
                int dup = 0;
                for (size_t i = 0; i < nw && !dup; i++)
                    dup = strlen(words[i]) == (size_t)(p - s) &&
                          memcmp(words[i], s, (size_t)(p - s)) == 0;
                if (dup)
                    continue;
                if (nw == wcap) {
                    wcap = wcap ? 2 * wcap : 256;
                    words = realloc(words, wcap * sizeof(char *));
                }
                words[nw++] = strndup(s, (size_t)(p - s));
                for (uint32_t k = 0; k < pl.nblocks; k++) {
                    if (n + BLK > cap) {
                        cap *= 2;
                        docs = realloc(docs, cap * 4);
                        tfs = realloc(tfs, cap * 4);
                    }
                    if (nb == ncap) {
                        ncap *= 2;
                        b = realloc(b, ncap * sizeof(blk));
                    }
                    b[nb].prev = k ? rag_postings_block_last(&pl, k - 1) : 0;
                    b[nb].n = rag_postings_decode(&pl, k, docs + n, tfs + n);
                    b[nb].off = n;
                    n += b[nb].n;
                    nb++;
                }
            }
        }
        rag_index_buf_free(&zb);
        for (size_t i = 0; i < nw; i++)
            free(words[i]);
        free(words);
        np = n;
        fprintf(stderr, "%zu terms, %u blocks, %llu postings\n", nw, nb,
                (unsigned long long)np);
    }
    uint8_t *enc = malloc(np * 10 + nb * 64 + 64);
    uint32_t out[BLK + 8], out2[BLK + 8];
    size_t *eo = malloc(nb * sizeof(size_t)), *to = malloc(nb * sizeof(size_t));
    int reps = 5;
    double t0, dt;
    uint64_t sink = 0;

    /* raw */
    t0 = now_s();
    for (int r = 0; r < reps; r++)
        for (uint32_t i = 0; i < nb; i++) {
            memcpy(out, docs + b[i].off, b[i].n * 4);
            memcpy(out2, tfs + b[i].off, b[i].n * 4);
            sink += out[0] + out2[0];
        }
    dt = now_s() - t0;
    printf("%-15s %5.2f bytes/posting  %6.0f M postings/s\n", "raw u32", 8.0,
           reps * np / dt / 1e6);

    /* LEB128 */
    size_t o = 0;
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t prev = b[i].prev;
        eo[i] = o;
        for (uint32_t k = 0; k < b[i].n; k++) {
            o += leb_put(enc + o, docs[b[i].off + k] - prev);
            prev = docs[b[i].off + k];
            o += leb_put(enc + o, tfs[b[i].off + k]);
        }
    }
    t0 = now_s();
    for (int r = 0; r < reps; r++)
        for (uint32_t i = 0; i < nb; i++) {
            const uint8_t *p = enc + eo[i];
            uint32_t prev = b[i].prev, g;
            for (uint32_t k = 0; k < b[i].n; k++) {
                p = leb_get(p, &g);
                prev += g;
                out[k] = prev;
                p = leb_get(p, &out2[k]);
            }
            sink += out[0] + out2[0];
        }
    dt = now_s() - t0;
    printf("%-15s %5.2f bytes/posting  %6.0f M postings/s\n", "LEB128 varint",
           (double)o / np, reps * np / dt / 1e6);

    /* Stream VByte, encoded once (rag_svb == libstreamvbyte bytes) */
    o = 0;
    for (uint32_t i = 0; i < nb; i++) {
        uint32_t tm1[BLK];
        eo[i] = o;
        o += rag_svb_encode_delta(docs + b[i].off, b[i].n, b[i].prev, enc + o);
        to[i] = o;
        for (uint32_t k = 0; k < b[i].n; k++)
            tm1[k] = tfs[b[i].off + k] - 1;
        o += rag_svb_encode_0124(tm1, b[i].n, enc + o);
    }
    double svb_bytes = (double)o / np;
    for (int impl = 0; impl < 3; impl++) {
        static const char *name[] = {"streamvbyte", "rag_svb scalar",
                                     "rag_svb SSSE3"};
        int bad = 0;
        t0 = now_s();
        for (int r = 0; r < reps; r++)
            for (uint32_t i = 0; i < nb; i++) {
                const uint8_t *p = enc + eo[i];
                if (impl == 0) {
                    streamvbyte_delta_decode(p, out, b[i].n, b[i].prev);
                    streamvbyte_decode_0124(enc + to[i], out2, b[i].n);
                } else if (impl == 1) {
                    rag_svb_decode_delta_scalar(p, b[i].n, b[i].prev, out);
                    rag_svb_decode_0124_scalar(enc + to[i], b[i].n, out2);
                } else {
                    rag_svb_decode_delta(p, b[i].n, b[i].prev, out);
                    rag_svb_decode_0124(enc + to[i], b[i].n, out2);
                }
                sink += out[0] + out2[0];
                if (r == 0)
                    bad += memcmp(out, docs + b[i].off, b[i].n * 4) != 0;
            }
        dt = now_s() - t0;
        printf("%-15s %5.2f bytes/posting  %6.0f M postings/s%s\n", name[impl],
               svb_bytes, reps * np / dt / 1e6, bad ? "  MISMATCH" : "");
    }
    fprintf(stderr, "(%llu)\n", (unsigned long long)(sink & 1));
    rag_index_close(ix);
    return 0;
}
