#include "rag_buf.h"
#include "rag_conf.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_limit(void)
{
    rag_buf b;

    rag_buf_init(&b, 8);
    CHECK_INT(rag_buf_puts(&b, "12345678"), 0);
    CHECK_INT(rag_buf_putc(&b, 'x'), -1); /* over max: refused */
    CHECK_INT(b.len, 8);
    CHECK_STR(b.data, "12345678");
    rag_buf_free(&b);
}

static void
test_json_str(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"l1\nl2\t", 6, "\"l1\\nl2\\t\""},
        {"\x01", 1, "\"\\u0001\""},
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""}, /* valid UTF-8 kept */
        {"bad\xff", 4, "\"bad\xef\xbf\xbd\""}, /* invalid replaced */
        {"\xc3", 1, "\"\xef\xbf\xbd\""},       /* truncated seq */
        {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
    };
    rag_buf b;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rag_buf_init(&b, 0);
        CHECK_INT(rag_buf_json_str(&b, cases[i].in, cases[i].len), 0);
        CHECK_STR(b.data, cases[i].want);
        rag_buf_free(&b);
    }

    /* two ways in, one result: with room for the worst case (6 bytes a
     * byte) the string is written straight into reserved storage; with
     * only just enough room (max = the output's size) run by run. Every
     * byte value, DEL and controls included, and random mixes with
     * broken UTF-8. */
    unsigned char in[512];
    unsigned x = 12345;
    int diff = 0;
    for (int t = 0; t < 400; t++) {
        size_t n;
        if (t == 0) {
            for (n = 0; n < 256; n++)
                in[n] = (unsigned char)n;
        } else {
            n = 1 + (x >> 8) % sizeof(in);
            for (size_t k = 0; k < n; k++) {
                x = x * 1103515245u + 12345u;
                /* mostly ASCII, some high bytes, some controls */
                in[k] = (unsigned char)(x >> 24 & 0x07 ? 0x20 + (x >> 16) % 96
                                                       : (x >> 16) & 0xff);
            }
        }
        rag_buf fast, slow;
        rag_buf_init(&fast, 0);
        CHECK_INT(rag_buf_json_str(&fast, (const char *)in, n), 0);
        rag_buf_init(&slow, fast.len);
        CHECK_INT(rag_buf_json_str(&slow, (const char *)in, n), 0);
        diff += slow.len != fast.len || memcmp(slow.data, fast.data, fast.len);
        /* one byte short: refused */
        rag_buf_free(&slow);
        rag_buf_init(&slow, fast.len - 1);
        CHECK_INT(rag_buf_json_str(&slow, (const char *)in, n), -1);
        rag_buf_free(&slow);
        rag_buf_free(&fast);
    }
    CHECK_INT(diff, 0);
    rag_buf_init(&b, 0);
    CHECK_INT(rag_buf_json_str(&b, "\x7f\x1f", 2), 0);
    CHECK_STR(b.data, "\"\x7f\\u001f\"");
    rag_buf_free(&b);
}

static void
test_printf(void)
{
    rag_buf b;
    char *s;

    int bad = 0;

    rag_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        bad += rag_buf_printf(&b, "%d,", i % 10) != 0;
    CHECK_INT(bad, 0);
    CHECK_INT(b.len, 2000);
    s = rag_buf_detach(&b);
    CHECK(s[0] == '0' && s[1999] == ',');
    CHECK(b.data == NULL);
    free(s);

    /* text longer than the room left: formatted again after growing */
    char big[301];
    memset(big, 'y', 300);
    big[300] = '\0';
    rag_buf_init(&b, 0);
    CHECK_INT(rag_buf_printf(&b, "x%s", big), 0);
    CHECK_INT(b.len, 301);
    CHECK(b.data[0] == 'x' && strcmp(b.data + 1, big) == 0);
    rag_buf_free(&b);

    /* over max, though it would fit the allocation: refused, unchanged */
    rag_buf_init(&b, 8);
    CHECK_INT(rag_buf_puts(&b, "1234"), 0);
    CHECK_INT(rag_buf_printf(&b, "%d", 56789), -1);
    CHECK_INT(b.len, 4);
    CHECK_STR(b.data, "1234");
    CHECK_INT(rag_buf_printf(&b, "%d", 5678), 0);
    CHECK_STR(b.data, "12345678");
    rag_buf_free(&b);
}

/* rag_buf_put_g6 against printf's "%.6g": special values, values at
 * rounding ties and powers of ten, and pseudo-random bit patterns and
 * scores (a fixed sequence). */
static void
test_put_g6(void)
{
    static const double special[] = {
        0.0,        -0.0,          1.0,        -1.0,
        0.5,        1e-5,          1e-4,       999999.5,
        999999.4,   9999995,       1e6,        1e5,
        123456.5,   0.00001234565, 1e21,       1e-18,
        1e16,       9.999995e20,   5e-324,     1.7976931348623157e308,
        12.3456789, 0.000123456,   25.0000001, 1.0 / 3,
        2.0 / 3};
    uint64_t x = 88172645463325252ull;
    char want[64];
    rag_buf b;
    int bad = 0;

    rag_buf_init(&b, 0);
    for (size_t i = 0; i < 200000 + sizeof(special) / sizeof(special[0]); i++) {
        double v;
        if (i < sizeof(special) / sizeof(special[0])) {
            v = special[i];
        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (i % 3 == 0)
                memcpy(&v, &x, sizeof(v)); /* any bits: NaN, inf too */
            else if (i % 3 == 1)
                v = ldexp((double)(x >> 11), -(int)(x % 90));
            else
                v = ((double)(x % 10000000) + 0.5) / 1e4; /* ties */
        }
        rag_buf_reset(&b);
        if (rag_buf_put_g6(&b, v) != 0)
            bad++;
        snprintf(want, sizeof(want), "%.6g", v);
        if (b.data == NULL || strcmp(b.data, want) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "put_g6(%.17g): %s, printf: %s\n", v,
                        b.data ? b.data : "(null)", want);
        }
    }
    CHECK_INT(bad, 0);
    rag_buf_free(&b);
}

static void
test_conf(void)
{
    char path[] = "/tmp/rag_conf_XXXXXX", err[256];
    FILE *f;
    rag_conf *c;
    int fd = mkstemp(path);

    f = fdopen(fd, "w");
    fprintf(f, "# comment\nname = value one \nn=42\nq = \"  spaced # \"\n"
               "flag = yes\n");
    fclose(f);
    c = rag_conf_load(path, err, sizeof(err));
    CHECK(c != NULL);
    CHECK_STR(rag_conf_get(c, "name", NULL), "value one");
    CHECK_INT(rag_conf_int(c, "n", 0), 42);
    CHECK_STR(rag_conf_get(c, "q", NULL), "  spaced # ");
    CHECK_INT(rag_conf_bool(c, "flag", 0), 1);
    CHECK_STR(rag_conf_get(c, "missing", "def"), "def");
    setenv("RAG_NAME", "from env", 1);
    CHECK_STR(rag_conf_get(c, "name", NULL), "from env");
    unsetenv("RAG_NAME");
    rag_conf_free(c);

    f = fopen(path, "w");
    fprintf(f, "novalue\n");
    fclose(f);
    CHECK(rag_conf_load(path, err, sizeof(err)) == NULL);
    CHECK(strstr(err, ":1:") != NULL);
    remove(path);
}

int
main(void)
{
    RUN(test_limit);
    RUN(test_json_str);
    RUN(test_printf);
    RUN(test_put_g6);
    RUN(test_conf);
    UNIT_DONE();
}
