#include "rag_terms.h"
#include "unit.h"

#include <stdlib.h>

/* Joins the terms of s with single spaces. */
static int
join_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    char *out = ud;
    size_t o = strlen(out);

    if (o + n + 2 > 512)
        return 1;
    if (o)
        out[o++] = ' ';
    memcpy(out + o, t, n);
    out[o + n] = '\0';
    return 0;
}

static const char *
terms(const char *s, size_t n)
{
    static char out[512];
    out[0] = '\0';
    rag_terms_each(s, n, join_cb, out);
    return out;
}

static void
test_extract(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Hello World", "hello world"},
        {"pg_dump", "pg_dump pg dump"},
        {"SET max_connections = 100", "set max_connections max connection 100"},
        {"CREATE INDEX", "creat index create index"},
        {"ALTER TABLE ONLY t", "alter tabl alter table only table only t"},
        {"CREATE  INDEX", "creat index"}, /* not adjacent */
        {"Create Index", "creat index"},
        {"the indexes are indexed", "index index"},
        {"Indexing an index", "index index"},
        {"getElementById", "getelementbyid get element id"},
        {"HTTPServer", "httpserver http server"},
        {"running stopped named", "run stop name"},
        {"queries queried query", "query query query"},
        {"a-b", "a-b b"},
        {"end. Next", "end next"},
        {"version 15.2", "version 15.2 15 2"},
        {"x-forwarded-for", "x-forwarded-for x forward"},
        {"\xc3\x9c"
         "BER Stra\xc3\x9f"
         "e",
         "\xc3\xbc"
         "ber stra\xc3\x9f"
         "e"},
        {"\xd0\x9f\xd0\xa0\xd0\x98", "\xd0\xbf\xd1\x80\xd0\xb8"},
        {"ab\xff"
         "cd",
         "ab cd"},
        {"caf\xc3", "caf"}, /* truncated sequence */
        {"em\xe2\x80\x94"
         "dash",
         "em dash"},
        {"", ""},
        {"  ,;  ", ""},
        {"trailing_", "trail"},
        {"__init__", "init"},
        /* contractions and possessives: the clitic is no term ("I'm"
         * gave "m", "owner's" gave "s"), a negated auxiliary none at
         * all ("don't" gave "don" and "t") */
        {"I'm sure it's the server's limit", "sure server limit"},
        {"don't rely on the owner\xe2\x80\x99s rights", "rely owner right"},
        {"we'll see, they've gone, you'd say, we're done", "see gone say done"},
        {"isn't doesn't won't", ""},
        {"'s' x's", "s x"},             /* a quote, not a clitic */
        {"rock'n'roll", "rock n roll"}, /* not a clitic either */
        /* an acronym's plural is the acronym ("URLs" gave "urls", "ur"
         * and "ls"), not a camelCase word */
        {"URLs and IDs of CPUs", "url id cpu"},
        {"HTTPServers", "httpservers http server"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_STR(terms(cases[i].in, strlen(cases[i].in)), cases[i].want);
}

static void
test_long_terms(void)
{
    char buf[200];

    memset(buf, 'x', 70);
    buf[70] = '\0';
    CHECK_STR(terms(buf, 70), ""); /* over RAG_TERM_MAX: skipped */
    memset(buf, 'y', 64);
    memcpy(buf + 64, "_ab", 4);
    /* identifier too long as a whole, parts still emitted */
    CHECK_STR(terms(buf, 67),
              "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
              " ab");
}

static void
test_stem(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"classes", "class"},     {"status", "status"},
        {"analysis", "analysis"}, {"caches", "cach"},
        {"cache", "cach"},        {"create", "creat"},
        {"created", "creat"},     {"creating", "creat"},
        {"using", "using"},       {"string", "string"},
        {"agreed", "agreed"},     {"hopping", "hop"},
        {"installed", "install"}, {"pg15", "pg15"},
        {"run", "run"},           {"tables", "tabl"},
        {"table", "tabl"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char w[64];
        size_t n = strlen(cases[i].in);
        memcpy(w, cases[i].in, n);
        n = rag_term_stem(w, n);
        w[n] = '\0';
        CHECK_STR(w, cases[i].want);
    }
}

static void
test_stopwords(void)
{
    CHECK(rag_term_is_stopword("the", 3));
    CHECK(rag_term_is_stopword("your", 4));
    CHECK(rag_term_is_stopword("a", 1));
    CHECK(rag_term_is_stopword("would", 5));
    CHECK(!rag_term_is_stopword("index", 5));
    CHECK(!rag_term_is_stopword("not", 3));
    CHECK(!rag_term_is_stopword("thesaurus", 9));
}

static const char *
terms_st(rag_stemmer *st, const char *s)
{
    static char out[512];
    out[0] = '\0';
    rag_terms_each_stem(st, s, strlen(s), join_cb, out);
    return out;
}

/* Snowball stemmers by collection language: words of one family meet in
 * German and French as in English; identifiers, numbers and the English
 * stopwords (English only) as with the light stemmer. */
static void
test_snowball(void)
{
    char err[1024];
    rag_stemmer *de = rag_stemmer_new("german", err, sizeof(err));
    rag_stemmer *fr = rag_stemmer_new("french", err, sizeof(err));
    rag_stemmer *en = rag_stemmer_new("english", err, sizeof(err));

    CHECK(de != NULL && fr != NULL && en != NULL);
    if (de == NULL || fr == NULL || en == NULL)
        goto out;
    CHECK_STR(rag_stemmer_language(de), "german");
    /* German: plural and umlaut, compounds' inflections, sharp s; "die"
     * and "in" are words here (the English stopwords do not apply) */
    CHECK_STR(terms_st(de, "H\xc3\xa4user Haus"), "haus haus");
    CHECK_STR(terms_st(de, "die Datenbanken in der Datenbank"),
              "die datenbank in der datenbank");
    CHECK_STR(terms_st(de, "STRASSE Stra\xc3\x9f"
                           "e Stra\xc3\x9f"
                           "en"),
              "strass strass strass");
    /* the light English stemmer leaves German alone */
    CHECK_STR(terms(("H\xc3\xa4user Haus"), strlen("H\xc3\xa4user Haus")),
              "h\xc3\xa4user haus");
    /* French */
    CHECK_STR(terms_st(fr, "les serveurs du serveur"), "le serveur du serveur");
    CHECK_STR(terms_st(fr, "donn\xc3\xa9"
                           "es donn\xc3\xa9"
                           "e"),
              "don don");
    /* English Snowball: the stopwords go, families meet */
    CHECK_STR(terms_st(en, "the indexes are indexed by vacuuming"),
              "index index vacuum");
    /* identifiers and numbers are not stemmed, in any language */
    CHECK_STR(terms_st(de, "pg_dump Version 15.2"),
              "pg_dump pg dump version 15.2 15 2");
    CHECK_STR(terms_st(fr, "getElementById"),
              "getelementbyid get element by id");
    /* NULL: the light stemmer, exactly rag_terms_each */
    CHECK_STR(terms_st(NULL, "the indexes are indexed CREATE INDEX"),
              "index index creat index create index");
out:
    rag_stemmer_free(de);
    rag_stemmer_free(fr);
    rag_stemmer_free(en);
    rag_stemmer_free(NULL);

    /* an unknown language: a clear error naming the ones there are */
    CHECK(rag_stemmer_new("klingon", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "unknown stemmer language \"klingon\"") != NULL);
    CHECK(strstr(err, "german") != NULL && strstr(err, "french") != NULL);
    CHECK(rag_stemmer_new(NULL, err, sizeof(err)) == NULL);
    CHECK(rag_stemmer_new("", err, sizeof(err)) == NULL);
    CHECK(rag_stemmer_new("German", err, sizeof(err)) == NULL); /* case */
    CHECK(rag_stemmer_new("de", err, sizeof(err)) == NULL);     /* names only */
    CHECK(rag_stem_language_ok("english") && rag_stem_language_ok("russian"));
    CHECK(!rag_stem_language_ok("english ") && !rag_stem_language_ok(NULL));
    char small[12];
    rag_stem_languages(small, sizeof(small));
    CHECK(strlen(small) < sizeof(small));
}

static int
offs_cb(void *ud, const char *t, size_t n, size_t off, size_t len)
{
    size_t *o = ud;
    o[o[0] * 2 + 1] = off;
    o[o[0] * 2 + 2] = len;
    o[0]++;
    return o[0] >= 4;
}

static void
test_offsets(void)
{
    size_t o[16] = {0};
    const char *s = "run pg_dump now";

    CHECK_INT(rag_terms_each(s, strlen(s), offs_cb, o), -1); /* stopped */
    CHECK_INT(o[0], 4);
    CHECK_INT(o[1], 0); /* run */
    CHECK_INT(o[3], 4); /* pg_dump whole */
    CHECK_INT(o[4], 7);
    CHECK_INT(o[5], 4); /* pg */
    CHECK_INT(o[7], 7); /* dump */
}

int
main(void)
{
    RUN(test_extract);
    RUN(test_long_terms);
    RUN(test_stem);
    RUN(test_stopwords);
    RUN(test_snowball);
    RUN(test_offsets);
    UNIT_DONE();
}
