#include "rag_index.h"
#include "unit.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* the pure helpers of worker/rag_reindex.c (the rest needs Postgres) */
#include "../../worker/rag_reindex.c"

static char dir[] = "/tmp/test_index_XXXXXX";

static unsigned char *
slurp(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *b;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || fstat(fd, &st) != 0)
        return NULL;
    b = malloc((size_t) st.st_size + 1);
    if (b && read(fd, b, (size_t) st.st_size) != st.st_size) {
        free(b);
        b = NULL;
    }
    close(fd);
    *len = (size_t) st.st_size;
    return b;
}

static int
write_small(const char *path, uint32_t dims, uint64_t gen)
{
    float v[3][4] = {{1, 0, 0, 0}, {0, 3, 4, 0}, {0, 0, 0, 0}};
    rag_index_input in[3] = {
        {11, "https://d/a#intro", "Alpha", "Guide > Intro",
         "pg_dump writes a backup", NULL},
        {22, "https://d/b", "Beta", "", "CREATE INDEX builds an index", NULL},
        {33, "https://d/c", "", "", "caf\xc3\xa9 index", NULL},
    };
    rag_index_writer *w = rag_index_writer_new(dims);
    char err[256];
    int rc = 0;

    for (int i = 0; i < 3; i++) {
        in[i].embedding = dims ? v[i] : NULL;
        rc |= rag_index_writer_add(w, &in[i]);
    }
    rc |= rag_index_writer_write(w, path, gen, err, sizeof(err));
    if (rc)
        fprintf(stderr, "write: %s\n", err);
    rag_index_writer_free(w);
    return rc;
}

static void
test_roundtrip(void)
{
    char path[256], err[256];
    rag_index *ix;
    rag_index_chunk c;
    rag_postings pl;
    float f[4], sc;

    snprintf(path, sizeof(path), "%s/small.idx", dir);
    CHECK_INT(write_small(path, 4, 7), 0);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL);
    if (ix == NULL) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    CHECK_INT(rag_index_generation(ix), 7);
    CHECK_INT(rag_index_count(ix), 3);
    CHECK_INT(rag_index_dims(ix), 4);
    CHECK_INT(rag_index_chunk_get(ix, 0, &c), 0);
    CHECK_INT(c.chunk_id, 11);
    CHECK(c.url.len == 17 && memcmp(c.url.p, "https://d/a#intro", 17) == 0);
    CHECK(c.title.len == 5 && memcmp(c.title.p, "Alpha", 5) == 0);
    CHECK(c.heading_path.len == 13);
    CHECK(c.body.len == 23 && memcmp(c.body.p, "pg_dump", 7) == 0);
    CHECK_INT(rag_index_chunk_get(ix, 2, &c), 0);
    CHECK_INT(c.chunk_id, 33);
    CHECK_INT(c.title.len, 0);
    CHECK_INT(rag_index_chunk_get(ix, 3, &c), -1);

    CHECK_INT(rag_index_term(ix, "index", 5, &pl), 0);
    CHECK_INT(pl.df, 2); /* docs 1 and 2 */
    CHECK_INT(rag_postings_doc(&pl, 0), 1);
    CHECK_INT(rag_postings_tf(&pl, 0), 2); /* "INDEX" and "index" */
    CHECK_INT(rag_postings_doc(&pl, 1), 2);
    CHECK_INT(rag_index_term(ix, "pg_dump", 7, &pl), 0);
    CHECK_INT(pl.df, 1);
    CHECK_INT(rag_index_term(ix, "caf\xc3\xa9", 5, &pl), 0);
    CHECK_INT(rag_index_term(ix, "nope", 4, &pl), -1);
    CHECK_INT(rag_index_term(ix, "", 0, &pl), -1);
    /* title + heading (counted twice) + body terms: alpha, guide intro
     * guide intro, pg_dump pg dump write backup */
    CHECK_INT(rag_index_doc_len(ix, 0), 10);
    CHECK_INT(rag_index_term(ix, "intro", 5, &pl), 0);
    CHECK_INT(rag_postings_tf(&pl, 0), 2);

    CHECK_INT(rag_index_vec_f32(ix, 1, f), 0);
    CHECK(f[1] > 0.5999f && f[1] < 0.6001f && f[2] > 0.7999f); /* unit */
    CHECK(rag_index_vec_i8(ix, 1, &sc) != NULL);
    CHECK(rag_index_vec_i8(ix, 1, &sc)[2] == 127);
    CHECK(rag_index_vec_i8(ix, 2, &sc) == NULL); /* zero vector: none */
    CHECK_INT(rag_index_vec_f32(ix, 2, f), -1);
    rag_index_close(ix);

    /* lexical-only and empty indexes */
    CHECK_INT(write_small(path, 0, 1), 0);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL && rag_index_dims(ix) == 0);
    if (ix) {
        CHECK(rag_index_vec_i8(ix, 0, &sc) == NULL);
        rag_index_close(ix);
    }
    rag_index_writer *w = rag_index_writer_new(0);
    CHECK_INT(rag_index_writer_write(w, path, 2, err, sizeof(err)), 0);
    rag_index_writer_free(w);
    ix = rag_index_open(path, err, sizeof(err));
    CHECK(ix != NULL && rag_index_count(ix) == 0);
    rag_index_close(ix);
    /* no temp file left behind */
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long) getpid());
    CHECK(access(tmp, F_OK) != 0);
}

static void
test_open_errors(void)
{
    char err[256], path[300];
    rag_index_writer *w = rag_index_writer_new(0);

    CHECK(rag_index_open("/nonexistent/x.idx", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "No such file") != NULL);
    CHECK(rag_index_open(dir, err, sizeof(err)) == NULL);
    snprintf(path, sizeof(path), "%s/empty.idx", dir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    CHECK(rag_index_open(path, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "truncated") != NULL);
    CHECK_INT(rag_index_writer_write(w, "/nonexistent/dir/x.idx", 1, err,
                                     sizeof(err)),
              -1);
    CHECK(strstr(err, "open") != NULL);
    rag_index_writer_free(w);
    CHECK(rag_index_writer_new(100000) == NULL); /* dims bound */
}

static uint32_t
rd32(const unsigned char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
           (uint32_t) p[3] << 24;
}

static void
wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
}

static void
fix_crc(unsigned char *b, size_t len)
{
    wr32(b + 60, rag_crc32c(rag_crc32c(0, b, 60), b + 64, len - 64));
}

static uint32_t
sect_off(const unsigned char *b, int s)
{
    return rd32(b + 64 + s * 16);
}

/* open_mem on a modified copy with a valid checksum: must fail with an
 * error containing want */
static void
expect_reject(const unsigned char *orig, size_t len, size_t at, uint32_t v,
              const char *want)
{
    unsigned char *b = malloc(len);
    char err[256] = "";
    rag_index *ix;

    memcpy(b, orig, len);
    wr32(b + at, v);
    fix_crc(b, len);
    ix = rag_index_open_mem(b, len, err, sizeof(err));
    CHECK(ix == NULL);
    if (strstr(err, want) == NULL) {
        fprintf(stderr, "at %zu: error \"%s\", want \"%s\"\n", at, err, want);
        CHECK(0);
    }
    rag_index_close(ix);
    free(b);
}

static void
test_corruption(void)
{
    char path[256], err[256];
    unsigned char *b, *c;
    size_t len, bad = 0;
    rag_index *ix;

    snprintf(path, sizeof(path), "%s/c.idx", dir);
    CHECK_INT(write_small(path, 4, 3), 0);
    b = slurp(path, &len);
    CHECK(b != NULL);
    if (b == NULL)
        return;
    ix = rag_index_open_mem(b, len, err, sizeof(err));
    CHECK(ix != NULL);
    rag_index_close(ix);

    /* every truncation, in a right-sized heap block so ASan sees
     * overreads */
    for (size_t n = 0; n < len; n++) {
        c = malloc(n ? n : 1);
        memcpy(c, b, n);
        ix = rag_index_open_mem(c, n, err, sizeof(err));
        if (ix) {
            bad++;
            rag_index_close(ix);
        }
        free(c);
    }
    CHECK_INT(bad, 0);
    /* every single-byte flip */
    c = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            memcpy(c, b, len);
            c[i] ^= (unsigned char) (1u << bit);
            ix = rag_index_open_mem(c, len, err, sizeof(err));
            if (ix) {
                bad++;
                rag_index_close(ix);
            }
        }
    }
    free(c);
    CHECK_INT(bad, 0);

    /* structural damage behind a valid checksum */
    uint32_t docs = sect_off(b, 0), terms = sect_off(b, 2);
    uint32_t posts = sect_off(b, 4);
    expect_reject(b, len, 8, 2, "version");
    expect_reject(b, len, 24, (uint32_t) len + 8, "size mismatch");
    expect_reject(b, len, 32, 4, "inconsistent");        /* n_docs */
    expect_reject(b, len, 36, 1000, "inconsistent");     /* n_terms */
    expect_reject(b, len, 40, 3, "inconsistent");        /* dims */
    expect_reject(b, len, 64 + 16, sect_off(b, 1) + 8, "out of bounds");
    expect_reject(b, len, 64 + 16 * 7 + 8, 0xfffffff0u, "out of bounds");
    expect_reject(b, len, docs + 8, 0x7fffffff, "strings out of bounds");
    expect_reject(b, len, docs + 28, 0x7fffffff, "strings out of bounds");
    expect_reject(b, len, docs + 32, 99, "doc lengths");
    expect_reject(b, len, terms + 8, 1000, "postings out of range"); /* df */
    expect_reject(b, len, terms + 8, 0, "postings out of range");
    expect_reject(b, len, terms + 24, 5, "postings out of range"); /* off */
    expect_reject(b, len, terms + 16, 0, "text out of bounds");
    expect_reject(b, len, terms + 16, 65, "text out of bounds");
    expect_reject(b, len, terms + 12, 0xffffff00u, "text out of bounds");
    {
        /* term 0 gets term 1's text: a duplicate */
        unsigned char *d = malloc(len);
        memcpy(d, b, len);
        memcpy(d + terms + 12, d + terms + 24 + 12, 8);
        expect_reject(d, len, 8, 1, "not sorted");
        free(d);
    }
    expect_reject(b, len, posts, 3, "bad posting");      /* doc >= n */
    expect_reject(b, len, posts + 4, 0, "bad posting");  /* tf = 0 */
    expect_reject(b, len, sect_off(b, 5), 0x7fc00000u, "scale"); /* NaN */
    expect_reject(b, len, sect_off(b, 7), 0x7f800000u, "vector value");
    /* a term with two postings: swap order */
    {
        rag_postings pl;
        ix = rag_index_open_mem(b, len, err, sizeof(err));
        CHECK_INT(rag_index_term(ix, "index", 5, &pl), 0);
        size_t at = (size_t) (pl.p - b);
        rag_index_close(ix);
        expect_reject(b, len, at + 8, 0, "bad posting");
    }
    free(b);
}

static void
test_paths(void)
{
    char out[64];

    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", "docs"), 0);
    CHECK_STR(out, "/var/ix/docs.idx");
    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", "v3.0_beta-1"), 0);
    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", "a/b"), -1);
    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", ".."), -1);
    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", "a..b"), -1);
    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", "."), -1);
    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", ""), -1);
    CHECK_INT(rag_index_path(out, sizeof(out), "/var/ix", "sp ace"), -1);
    CHECK_INT(rag_index_path(out, 10, "/var/ix", "docs"), -1);
    CHECK_INT(rag_index_path(out, sizeof(out), "", "docs"), -1);
    char lng[80];
    memset(lng, 'a', 65);
    lng[65] = '\0';
    CHECK_INT(rag_index_path(out, sizeof(out), "/d", lng), -1);
}

static void
test_vectors_parse(void)
{
    float v[3];

    CHECK_INT(parse_vec("{1,-2.5,3e-2}", v, 3), 0);
    CHECK(v[1] == -2.5f);
    CHECK_INT(parse_vec("{1,2}", v, 3), -1);
    CHECK_INT(parse_vec("{1,2,3,4}", v, 3), -1);
    CHECK_INT(parse_vec("{1,x,3}", v, 3), -1);
    CHECK_INT(parse_vec("{1,NaN,3}", v, 3), -1);
    CHECK_INT(parse_vec("1,2,3", v, 3), -1);
}

static void
test_crc(void)
{
    /* CRC-32C check value */
    CHECK_INT(rag_crc32c(0, "123456789", 9), 0xe3069283u);
    CHECK_INT(rag_crc32c(rag_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(test_crc);
    RUN(test_roundtrip);
    RUN(test_open_errors);
    RUN(test_corruption);
    RUN(test_paths);
    RUN(test_vectors_parse);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    UNIT_DONE();
}
