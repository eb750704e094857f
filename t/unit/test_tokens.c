/* Token estimate: against real cl100k_base counts (js-tiktoken, recorded
 * here), and the properties the chunker relies on. */
#include "rag_tokens.h"
#include "unit.h"

#include <stdlib.h>

static size_t
est(const char *s)
{
    return rag_tokens_estimate(s, strlen(s));
}

static void
test_real_counts(void)
{
    /* short strings vary more than whole pages (see rag_tokens.h for the
     * corpus-level bound); each must be within 35% here */
    static const struct {
        const char *text;
        size_t real;
    } t[] = {
        {"Hello, world!", 4},
        {"PostgreSQL is a powerful, open source object-relational database "
         "system.",
         14},
        {"SELECT name, setting FROM pg_settings WHERE name LIKE 'shared%';",
         14},
        {"static int rag_buf_append(rag_buf *b, const void *p, size_t n);", 20},
        {"## Installation\n\nRun `apt-get install nginx` and restart the "
         "service.\n",
         15},
        {"| Name | Storage Size | Description |\n|---|---|---|\n| `smallint` "
         "| 2 bytes | small-range integer |\n",
         29},
        {"The quick brown fox jumps over the lazy dog. The quick brown fox "
         "jumps over the lazy dog.",
         20},
        {"https://www.postgresql.org/docs/15/tutorial-accessdb.html"
         "#TUTORIAL-ACCESSDB",
         20},
        {"\xe6\x95\xb0\xe6\x8d\xae\xe5\xba\x93\xe5\xae\x89\xe8\xa3\x85\xe6"
         "\x8c\x87\xe5\x8d\x97\xe3\x80\x82\xe8\xaf\xb7\xe6\x8c\x89\xe7\x85"
         "\xa7\xe4\xbb\xa5\xe4\xb8\x8b\xe6\xad\xa5\xe9\xaa\xa4\xe6\x93\x8d"
         "\xe4\xbd\x9c\xe3\x80\x82",
         17},
    };
    size_t sum_e = 0, sum_r = 0;

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t e = est(t[i].text);
        double d = ((double)e - (double)t[i].real) / (double)t[i].real;
        if (d < -0.35 || d > 0.35)
            fprintf(stderr, "estimate %zu vs real %zu for \"%s\"\n", e,
                    t[i].real, t[i].text);
        CHECK(d >= -0.35 && d <= 0.35);
        sum_e += e;
        sum_r += t[i].real;
    }
    /* and within 15% over the whole table */
    CHECK(sum_e * 100 <= sum_r * 115 && sum_e * 100 >= sum_r * 85);
}

static void
test_basics(void)
{
    CHECK_INT(est(""), 0);
    CHECK_INT(est("a"), 1);
    CHECK_INT(est(" the"), 1);
    CHECK_INT(est("\n\n\n"), 1);
    CHECK_INT(est("123456"), 2);
    CHECK(est("internationalization") >= 3);
    CHECK(rag_tokens_estimate("\xff\xfe", 2) == 2); /* invalid UTF-8 */
    CHECK(est("a b c d e f g h") == 8);
}

/* The sum over pieces cut at whitespace is never below the whole. */
static void
test_subadditive(void)
{
    static const char *words[] = {
        "the",  "PostgreSQL", " ",  "\n",   "\n\n",  "x_y",
        "(",    ")",          ".",  "``` ", "12345", "\xc3\xa9t\xc3\xa9",
        "    ", "|",          "-->"};
    unsigned seed = 7;
    int bad = 0;

    for (int round = 0; round < 2000; round++) {
        char buf[1024];
        size_t n = 0, cut, whole, parts;
        int k = 1 + rand_r(&seed) % 30;
        for (int i = 0; i < k; i++) {
            const char *w =
                words[rand_r(&seed) % (sizeof(words) / sizeof(*words))];
            size_t l = strlen(w);
            if (n + l + 1 >= sizeof(buf))
                break;
            memcpy(buf + n, w, l);
            n += l;
        }
        buf[n] = '\0';
        whole = rag_tokens_estimate(buf, n);
        /* cut after a space or newline, as the chunker does */
        for (cut = 1; cut < n; cut++) {
            if (buf[cut - 1] != ' ' && buf[cut - 1] != '\n')
                continue;
            parts = rag_tokens_estimate(buf, cut) +
                    rag_tokens_estimate(buf + cut, n - cut);
            if (parts < whole) {
                fprintf(stderr, "not subadditive at %zu: \"%s\"\n", cut, buf);
                bad++;
            }
        }
    }
    CHECK_INT(bad, 0);
}

int
main(void)
{
    RUN(test_real_counts);
    RUN(test_basics);
    RUN(test_subadditive);
    UNIT_DONE();
}
