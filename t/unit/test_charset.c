/* rag_charset: UTF-8 repair (one U+FFFD per maximal invalid subpart),
 * Content-Type charset parsing, and HTML decoding by BOM, HTTP header
 * and <meta>, with the WHATWG label differences. */
#include "rag_charset.h"
#include "unit.h"

#include <stdlib.h>

#define FFFD "\xef\xbf\xbd"

static void
repair(const char *in, size_t n, const char *want, long want_bad)
{
    rag_buf b;

    rag_buf_init(&b, 0);
    CHECK_INT(rag_utf8_repair(in, n, &b), want_bad);
    CHECK_STR(b.data ? b.data : "", want);
    CHECK(rag_utf8_valid(b.data ? b.data : "", b.len));
    rag_buf_free(&b);
}

static void
test_repair(void)
{
    repair("plain", 5, "plain", 0);
    repair("caf\xc3\xa9", 5, "caf\xc3\xa9", 0);
    repair("caf\xe9!", 5, "caf" FFFD "!", 1); /* Latin-1 byte */
    repair("a\xff\xfe"
           "b",
           4, "a" FFFD FFFD "b", 2);                       /* never valid */
    repair("x\xe2\x82 y", 5, "x" FFFD " y", 1);            /* cut 3-byte seq */
    repair("\xe2\x82", 2, FFFD, 1);                        /* cut at the end */
    repair("\xc0\xaf", 2, FFFD FFFD, 2);                   /* overlong */
    repair("\xed\xa0\x80", 3, FFFD FFFD FFFD, 3);          /* surrogate */
    repair("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD, 4); /* > U+10FFFF */
    repair("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 0);  /* emoji */
    repair("a\0b", 3, "a" FFFD "b", 1);                    /* NUL */
    CHECK(!rag_utf8_valid("caf\xe9", 4));
    CHECK(rag_utf8_valid("", 0));
}

static void
test_content_type(void)
{
    char cs[32];

    rag_charset_from_content_type("text/html; charset=ISO-8859-1", cs,
                                  sizeof(cs));
    CHECK_STR(cs, "ISO-8859-1");
    rag_charset_from_content_type("text/html;charset=\"utf-8\"", cs,
                                  sizeof(cs));
    CHECK_STR(cs, "utf-8");
    rag_charset_from_content_type("text/html", cs, sizeof(cs));
    CHECK_STR(cs, "");
    rag_charset_from_content_type(NULL, cs, sizeof(cs));
    CHECK_STR(cs, "");
}

static void
decode(const char *html, const char *http, const char *want_sub,
       const char *want_cs, long want_bad)
{
    rag_buf b;
    char used[32];

    rag_buf_init(&b, 0);
    CHECK_INT(rag_charset_decode_html(html, strlen(html), http, &b, used,
                                      sizeof(used)),
              want_bad);
    CHECK(b.data && strstr(b.data, want_sub) != NULL);
    if (!(b.data && strstr(b.data, want_sub)))
        fprintf(stderr, "  got: %s\n", b.data ? b.data : "(null)");
    CHECK_STR(used, want_cs);
    rag_buf_free(&b);
}

static void
test_decode(void)
{
    decode("<meta charset=\"iso-8859-1\"><p>caf\xe9", NULL, "caf\xc3\xa9",
           "WINDOWS-1252", 0);
    decode("<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; "
           "charset=windows-1252\"><p>\x93q\x94 \x80",
           NULL, "\xe2\x80\x9cq\xe2\x80\x9d \xe2\x82\xac", "WINDOWS-1252", 0);
    /* the HTTP header wins over <meta> */
    decode("<meta charset=utf-8><p>caf\xe9", "latin1", "caf\xc3\xa9",
           "WINDOWS-1252", 0);
    /* a BOM wins over both */
    decode("\xef\xbb\xbf<meta charset=latin1><p>caf\xc3\xa9", "latin1",
           "caf\xc3\xa9", "UTF-8", 0);
    /* undefined in windows-1252 */
    decode("<meta charset=latin1><p>a\x81z", NULL, "a" FFFD "z", "WINDOWS-1252",
           1);
    /* no declaration: UTF-8, bad bytes replaced */
    decode("<p>caf\xe9", NULL, "caf" FFFD, "UTF-8", 1);
    /* an unknown label falls back to UTF-8 */
    decode("<meta charset=x-no-such-charset><p>ok\xc3\xa9", NULL, "ok\xc3\xa9",
           "UTF-8", 0);
    /* a <meta> saying UTF-16 on an ASCII-readable page means UTF-8 */
    decode("<meta charset=utf-16><p>ok", NULL, "<p>ok", "UTF-8", 0);
    /* other charsets through iconv */
    decode("<meta charset=shift_jis><p>\x93\xfa\x96\x7b", NULL,
           "\xe6\x97\xa5\xe6\x9c\xac", "shift_jis", 0);
    decode("<meta charset=koi8-r><p>\xf0\xd2\xc9", NULL,
           "\xd0\x9f\xd1\x80\xd0\xb8", "koi8-r", 0);
}

int
main(void)
{
    test_repair();
    test_content_type();
    test_decode();
    UNIT_DONE();
}
