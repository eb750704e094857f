/* URL normalisation, reference resolution and the SSRF address checks. */
#include "rag_url.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static void
test_normalize(void)
{
    static const struct {
        const char *in, *out;
    } t[] = {
        {"HTTP://Example.ORG", "http://example.org/"},
        {"https://example.org:443/a/./b/../c", "https://example.org/a/c"},
        {"http://example.org:80/x#frag", "http://example.org/x"},
        {"http://example.org:8080/x?q=1#f", "http://example.org:8080/x?q=1"},
        {"http://example.org/a/b/../../..", "http://example.org/"},
        {"http://example.org/a b", "http://example.org/a%20b"},
        {"http://[::1]:8080/x", "http://[::1]:8080/x"},
        {"http://example.org./docs/", "http://example.org/docs/"},
        {"  http://example.org/x  ", "http://example.org/x"},
    };
    char out[RAG_URL_MAX];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK_INT(rag_url_normalize(t[i].in, out, sizeof(out)), 0);
        CHECK_STR(out, t[i].out);
    }
    static const char *bad[] = {
        "ftp://example.org/",
        "javascript:alert(1)",
        "http://",
        "/relative",
        "http://user@evil.example/",
        "http://exa mple.org/",
        "http://example.org:99999/",
        "http://example.org:0/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(rag_url_normalize(bad[i], out, sizeof(out)), -1);
}

static void
test_resolve(void)
{
    static const struct {
        const char *base, *ref;
        int frag;
        const char *out;
    } t[] = {
        /* the original scraper's bug: an absolute href glued onto the
         * site root ("https://docs.turso.tech/https://turso.tech/app") */
        {"https://docs.turso.tech/intro", "https://turso.tech/app", 0,
         "https://turso.tech/app"},
        {"https://docs.x.org/a/b", "//cdn.x.org/i.png", 0,
         "https://cdn.x.org/i.png"},
        {"https://docs.x.org/a/b", "/c", 0, "https://docs.x.org/c"},
        {"https://docs.x.org/a/b", "c", 0, "https://docs.x.org/a/c"},
        {"https://docs.x.org/a/b/", "../c", 0, "https://docs.x.org/a/c"},
        {"https://docs.x.org/a/b", "./", 0, "https://docs.x.org/a/"},
        {"https://docs.x.org/a/b?x=1", "?y=2", 0, "https://docs.x.org/a/b?y=2"},
        /* "#frag" is relative to the page, not the site root */
        {"https://docs.x.org/guide/install", "#debian", 1,
         "https://docs.x.org/guide/install#debian"},
        {"https://docs.x.org/guide/install?v=2", "#debian", 1,
         "https://docs.x.org/guide/install?v=2#debian"},
        {"https://docs.x.org/guide/install", "#debian", 0,
         "https://docs.x.org/guide/install"},
        {"https://docs.x.org/a", "other.html#sec", 1,
         "https://docs.x.org/other.html#sec"},
        {"https://docs.x.org/a", "", 0, "https://docs.x.org/a"},
        {"https://docs.x.org/a/b", "../../../../x", 0, "https://docs.x.org/x"},
        {"https://docs.x.org/a", "HTTPS://Docs.X.org:443/Y", 0,
         "https://docs.x.org/Y"},
    };
    char out[RAG_URL_MAX];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        CHECK_INT(
            rag_url_resolve(t[i].base, t[i].ref, t[i].frag, out, sizeof(out)),
            0);
        CHECK_STR(out, t[i].out);
    }
    CHECK_INT(rag_url_resolve("https://x.org/", "mailto:a@x.org", 0, out,
                              sizeof(out)),
              -1);
    CHECK_INT(rag_url_resolve("https://x.org/", "javascript:void(0)", 0, out,
                              sizeof(out)),
              -1);
}

static void
test_scope(void)
{
    CHECK(rag_url_same_site("https://x.org/a", "https://X.org:443/b"));
    CHECK(!rag_url_same_site("https://x.org/a", "http://x.org/a"));
    CHECK(!rag_url_same_site("https://x.org/a", "https://x.org:8443/a"));
    CHECK(!rag_url_same_site("https://x.org/a", "https://y.x.org/a"));
    CHECK(rag_url_has_prefix("https://x.org/docs/a", "https://x.org/docs/"));
    CHECK(!rag_url_has_prefix("https://x.org/blog/a", "https://x.org/docs/"));
    CHECK(rag_url_has_prefix("https://x.org/docs/../docs/a",
                             "https://x.org/docs/"));
    CHECK(!rag_url_has_prefix("https://x.org/docs/../blog/",
                              "https://x.org/docs/"));
}

static int
priv4(const char *a)
{
    struct sockaddr_in s;

    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    inet_pton(AF_INET, a, &s.sin_addr);
    return rag_addr_is_private((struct sockaddr *)&s);
}

static int
priv6(const char *a)
{
    struct sockaddr_in6 s;

    memset(&s, 0, sizeof(s));
    s.sin6_family = AF_INET6;
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return rag_addr_is_private((struct sockaddr *)&s);
}

static void
test_ssrf(void)
{
    static const char *priv[] = {
        "127.0.0.1",      "127.1.2.3",   "10.0.0.1",        "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0",
        "100.64.0.1",     "224.0.0.1",   "255.255.255.255", "198.18.0.1",
        "192.0.2.1",
    };
    static const char *pub4[] = {"8.8.8.8", "172.32.0.1", "93.184.216.34",
                                 "100.128.0.1", "192.169.0.1"};
    static const char *priv6s[] = {
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "2001:db8::1",
    };
    static const char *pub6[] = {"2606:4700:4700::1111", "2a00:1450::1",
                                 "::ffff:8.8.8.8"};

    for (size_t i = 0; i < sizeof(priv) / sizeof(*priv); i++)
        CHECK(priv4(priv[i]));
    for (size_t i = 0; i < sizeof(pub4) / sizeof(*pub4); i++)
        CHECK(!priv4(pub4[i]));
    for (size_t i = 0; i < sizeof(priv6s) / sizeof(*priv6s); i++)
        CHECK(priv6(priv6s[i]));
    for (size_t i = 0; i < sizeof(pub6) / sizeof(*pub6); i++)
        CHECK(!priv6(pub6[i]));
}

static void
test_vet(void)
{
    rag_url u;
    char resolve[600], addr[64], err[256];

    CHECK_INT(rag_url_parse("http://127.0.0.1:8080/x", &u), 0);
    CHECK_INT(rag_url_vet(&u, 0, resolve, sizeof(resolve), addr, sizeof(addr),
                          err, sizeof(err)),
              -1);
    CHECK(strstr(err, "private") != NULL);
    CHECK_INT(rag_url_vet(&u, 1, resolve, sizeof(resolve), addr, sizeof(addr),
                          err, sizeof(err)),
              0);
    CHECK_STR(resolve, "127.0.0.1:8080:127.0.0.1");
    CHECK_INT(rag_url_parse("http://[::1]/", &u), 0);
    CHECK_INT(rag_url_vet(&u, 1, resolve, sizeof(resolve), addr, sizeof(addr),
                          err, sizeof(err)),
              0);
    CHECK_STR(resolve, "::1:80:[::1]");
    /* "localhost" resolves to loopback: refused by name too */
    CHECK_INT(rag_url_parse("http://localhost/", &u), 0);
    CHECK_INT(rag_url_vet(&u, 0, resolve, sizeof(resolve), addr, sizeof(addr),
                          err, sizeof(err)),
              -1);
}

int
main(void)
{
    RUN(test_normalize);
    RUN(test_resolve);
    RUN(test_scope);
    RUN(test_ssrf);
    RUN(test_vet);
    UNIT_DONE();
}
