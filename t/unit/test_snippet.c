/*
 * rag_snippet: the window lands on the first query term however the
 * body inflects or writes it, a term inside a longer word is not a
 * match, terms without an ASCII lead are still found, and on random
 * Markdown bodies the snippet holds the word a reference (strip the
 * whole body, tokenise all of it, take the first match) finds.
 */
#include "rag_snippet.h"
#include "rag_terms.h"
#include "unit.h"

#include <stdlib.h>

static char filler[4096];

static void
make_filler(size_t n)
{
    static const char w[] = "lorem ipsum dolor sit amet ";
    for (size_t i = 0; i < n; i++)
        filler[i] = w[i % (sizeof(w) - 1)];
    if (n > 0)
        filler[n - 1] = ' ';
    filler[n] = '\0';
}

/* The snippet of prefix + filler + tail for query (outlen 120). */
static const char *
snip(const char *prefix, size_t fill, const char *tail, const char *query)
{
    static char body[8192], out[121];
    size_t o = 0;

    make_filler(fill);
    o += (size_t)snprintf(body + o, sizeof(body) - o, "%s%s%s", prefix, filler,
                          tail);
    rag_snippet(body, o, query, strlen(query), out, sizeof(out));
    return out;
}

static void
test_inflections(void)
{
    /* the stemmer changes word ends: a key is all but the term's last
     * byte, so every form is found far into the body */
    static const char *cases[][2] = {
        {"we were hoping for it", "hope"},
        {"the policies apply", "policy"},
        {"rows created here", "create"},
        {"the stopped workers", "stop"},
        {"it studied them", "study"},
        {"Indexes are named", "name"},
        {"VACUUM FULL rewrites", "vacuum"},
        {"see pg_dump and pg_restore", "pg_restore"},
        {"the getElementById call", "element"},
        {"Use the `max_connections` setting", "max connections"},
        {"**Replication** slots", "replication"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = snip("start ", 1500, cases[i][0], cases[i][1]);
        const char *word = strchr(cases[i][0], ' ') + 1;
        char w[32];
        size_t n = strcspn(word, " ");
        memcpy(w, word, n);
        w[n] = '\0';
        if (w[0] == '`' || w[0] == '*') /* markup is stripped */
            memmove(w, w + strspn(w, "`*"), strlen(w));
        w[strcspn(w, "`*")] = '\0';
        if (strstr(out, w) == NULL)
            fprintf(stderr, "case %zu: \"%s\" not in \"%s\"\n", i, w, out);
        CHECK(strstr(out, w) != NULL);
        CHECK(strncmp(out, "\xe2\x80\xa6", 3) == 0);
    }
}

static void
test_not_inside_words(void)
{
    /* "index" inside "reindex" and "indexed"... is not the term index;
     * "indexes" is */
    const char *out =
        snip("reindex reindexing ", 1500, "zindex indexes end", "index");
    CHECK(strstr(out, "indexes end") != NULL);
    CHECK(strstr(out, "reindex") == NULL);
    /* no match at all: the start of the body, no leading ellipsis */
    out = snip("first words ", 1500, "", "absent");
    CHECK(strncmp(out, "first words", 11) == 0);
}

static void
test_no_ascii_lead(void)
{
    /* Greek and accented terms: no key, a bounded tokenising scan */
    const char *out = snip("alpha ", 1500,
                           "\xce\xa9\xce\xbc\xce\xad\xce\xb3"
                           "\xce\xb1 word",
                           "\xcf\x89\xce\xbc\xce\xad\xce\xb3\xce\xb1");
    CHECK(strstr(out, "\xce\xa9\xce\xbc\xce\xad\xce\xb3\xce\xb1") != NULL);
    out = snip("alpha ", 1500, "\xc3\xa9t\xc3\xa9 word", "\xc3\x89T\xc3\x89");
    CHECK(strstr(out, "\xc3\xa9t\xc3\xa9 word") != NULL);
    /* past the scan bound: the start instead (still a valid snippet) */
    out = snip("alpha ", RAG_SNIPPET_SCAN > 4000 ? 4000 : RAG_SNIPPET_SCAN, "",
               "\xcf\x89");
    CHECK(strncmp(out, "alpha", 5) == 0);
}

static void
test_window_markup(void)
{
    char body[6000], out[200];
    size_t o = 0, n;

    /* the window starts inside a line: line-start markers are judged on
     * the whole body, and a code fence far before does not leak */
    o += (size_t)snprintf(body + o, sizeof(body) - o,
                          "```sql\nSELECT 1;\n```\n");
    make_filler(2000);
    o += (size_t)snprintf(body + o, sizeof(body) - o,
                          "%s\n# Heading\n"
                          "- item with [a link](http://x/y) and "
                          "**checkpoints** | cell |\n",
                          filler);
    n = rag_snippet(body, o, "checkpoint", 10, out, sizeof(out));
    CHECK(n == strlen(out));
    CHECK(strstr(out, "checkpoints cell") != NULL);
    CHECK(strstr(out, "a link and") != NULL);
    CHECK(strstr(out, "http") == NULL && strchr(out, '*') == NULL &&
          strchr(out, '#') == NULL);
    /* at the end of the body: no trailing ellipsis */
    CHECK(n >= 3 && strcmp(out + n - 3, "\xe2\x80\xa6") != 0);
    /* a snippet is at most RAG_SNIPPET_MAX bytes whatever outlen is */
    {
        static char big[3 * RAG_SNIPPET_MAX], bigout[3 * RAG_SNIPPET_MAX];
        make_filler(sizeof(filler) - 1);
        o = (size_t)snprintf(big, sizeof(big), "%s", filler);
        n = rag_snippet(big, o, "amet", 4, bigout, sizeof(bigout));
        CHECK(n <= RAG_SNIPPET_MAX && n == strlen(bigout));
    }
}

/* ---- against a reference ------------------------------------------------ */

typedef struct {
    rag_snippet_query *sq;
    size_t off, len;
    int found;
} ref_ctx;

static int
ref_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    ref_ctx *r = ud;
    for (size_t i = 0; i < r->sq->n; i++) {
        if (r->sq->len[i] == n && memcmp(r->sq->term[i], t, n) == 0) {
            r->off = off;
            r->len = len;
            r->found = 1;
            return 1;
        }
    }
    return 0;
}

/* The reference's plain text: markup removed as rag_snippet does when
 * markup only ever stands between words (as generated below). */
static size_t
ref_plain(const char *s, size_t n, char *out)
{
    size_t o = 0;
    int space = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '*' || c == '`')
            continue;
        if (c == ' ' || c == '\n') {
            if (!space)
                out[o++] = ' ';
            space = 1;
        } else {
            out[o++] = c;
            space = 0;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return o;
}

static void
test_random_vs_reference(void)
{
    static const char *words[] = {
        "index",
        "indexes",
        "reindex",
        "Vacuum",
        "VACUUM",
        "vacuuming",
        "pg_dump",
        "pg_restore",
        "restores",
        "max_connections",
        "backup",
        "backups",
        "created",
        "creating",
        "CREATE",
        "TABLE",
        "getElementById",
        "policy",
        "policies",
        "wal_level",
        "replication",
        "slots",
        "the",
        "and",
        "of",
        "\xc3\xa9t\xc3\xa9",
        "caf\xc3\xa9",
        "lorem",
        "ipsum",
        "dolor",
        "checkpoint",
        "checkpoints",
        "x",
        "42",
        "utf8",
    };
    static const char *queries[] = {
        "index",
        "vacuum",
        "pg_dump",
        "restore",
        "max connections",
        "backup",
        "create table",
        "element",
        "policies",
        "replication slot",
        "checkpoint",
        "zzz",
        "\xc3\x89t\xc3\xa9",
        "42",
    };
    size_t nw = sizeof(words) / sizeof(words[0]);
    size_t nq = sizeof(queries) / sizeof(queries[0]);
    int bad = 0, checked = 0, whole = 0;
    unsigned seed = 12345;

    for (int iter = 0; iter < 3000; iter++) {
        char body[6000], plain[6000], out[241], word[128];
        size_t o = 0, nwords = 5 + (size_t)(rand_r(&seed) % 600);
        const char *q = queries[rand_r(&seed) % nq];
        rag_snippet_query sq;
        ref_ctx r = {&sq, 0, 0, 0};

        for (size_t i = 0; i < nwords && o + 80 < sizeof(body); i++) {
            const char *w = words[rand_r(&seed) % nw];
            int m = rand_r(&seed) % 12;
            o += (size_t)snprintf(body + o, sizeof(body) - o, "%s%s%s%s",
                                  m == 0   ? "**"
                                  : m == 1 ? "`"
                                           : "",
                                  w,
                                  m == 0   ? "**"
                                  : m == 1 ? "`"
                                           : "",
                                  m == 2 ? "\n\n" : " ");
        }
        rag_snippet_query_init(&sq, q, strlen(q));
        size_t plen = ref_plain(body, o, plain);
        rag_terms_each(plain, plen, ref_cb, &r);
        size_t n = rag_snippet_make(&sq, body, o, out, sizeof(out));
        if (n != strlen(out) || n > 240) {
            bad++;
            continue;
        }
        if (plen <= 240) {
            whole++;
            if (strcmp(out, plain) != 0)
                bad++;
            continue;
        }
        if (!r.found)
            continue;
        checked++;
        memcpy(word, plain + r.off, r.len < 127 ? r.len : 127);
        word[r.len < 127 ? r.len : 127] = '\0';
        if (strstr(out, word) == NULL) {
            if (bad < 5)
                fprintf(stderr, "q=\"%s\": \"%s\" not in \"%s\"\n", q, word,
                        out);
            bad++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK(checked > 1000);
    CHECK(whole > 10);
}

int
main(void)
{
    RUN(test_inflections);
    RUN(test_not_inside_words);
    RUN(test_no_ascii_lead);
    RUN(test_window_markup);
    RUN(test_random_vs_reference);
    UNIT_DONE();
}
