/*
 * test_bot_embed — answer splitting (limits, code fences, newlines),
 * reply message packing, sources rendering, nonce derivation.
 *
 * Bot sources are compiled in directly: the unit-test rule links only
 * librag.a.
 */
#include "unit.h"

#include "../../bot/embed.c"

#include <stdlib.h>

static int
fences_balanced(const char *s)
{
    int n = 0;
    const char *p = s;

    while (*p) {
        const char *q = p;
        while (*q == ' ')
            q++;
        if (strncmp(q, "```", 3) == 0)
            n++;
        p = strchr(p, '\n');
        if (p == NULL)
            break;
        p++;
    }
    return n % 2 == 0;
}

static void
test_split_short(void)
{
    char **parts;
    long n = rag_embed_split("hello\n\nworld\n", 13, 4096, &parts);

    CHECK_INT(n, 1);
    CHECK_STR(parts[0], "hello\n\nworld");
    rag_embed_parts_free(parts, n);
    n = rag_embed_split("", 0, 4096, &parts);
    CHECK_INT(n, 0);
    rag_embed_parts_free(parts, n);
    CHECK_INT(rag_embed_split("x", 1, 10, &parts), -1); /* limit < 64 */
}

/* Table: text shapes x limits; every part within the limit, fences
 * balanced, and the text (minus inserted fence lines) preserved. */
static void
test_split_table(void)
{
    static const size_t limits[] = {64, 100, 257, 1000, 4096};
    rag_buf text, joined, want;
    size_t li;
    int i;

    rag_buf_init(&text, 1 << 20);
    for (i = 0; i < 40; i++)
        rag_buf_printf(&text, "Line %d with some words in it é ü ✓\n", i);
    rag_buf_puts(&text, "```c\n");
    for (i = 0; i < 60; i++)
        rag_buf_printf(&text, "int v%d = %d; /* code line */\n", i, i);
    rag_buf_puts(&text, "```\n\nafter the fence\n");
    for (i = 0; i < 300; i++)
        rag_buf_puts(&text, "averyveryverylongwordwithoutspaces");
    rag_buf_puts(&text, "\nend\n");

    for (li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
        char **parts;
        long n = rag_embed_split(text.data, text.len, limits[li], &parts), k;
        int ok_len = 1, ok_fence = 1, ok_utf8 = 1;

        CHECK(n > 0);
        rag_buf_init(&joined, 1 << 20);
        for (k = 0; k < n; k++) {
            const char *p = parts[k];
            size_t l = strlen(p);
            if (l > limits[li])
                ok_len = 0;
            if (!fences_balanced(p))
                ok_fence = 0;
            /* no part starts with a UTF-8 continuation byte */
            if (((unsigned char)p[0] & 0xC0) == 0x80)
                ok_utf8 = 0;
            /* drop fence lines and whitespace, keep the rest */
            for (; *p; p++) {
                if ((p == parts[k] || p[-1] == '\n') &&
                    strncmp(p, "```", 3) == 0) {
                    while (*p && *p != '\n')
                        p++;
                    if (!*p)
                        break;
                    continue;
                }
                if (*p != ' ' && *p != '\n')
                    rag_buf_putc(&joined, *p);
            }
        }
        rag_buf_init(&want, 1 << 20);
        {
            const char *p = text.data;
            for (; *p; p++) {
                if ((p == text.data || p[-1] == '\n') &&
                    strncmp(p, "```", 3) == 0) {
                    while (*p && *p != '\n')
                        p++;
                    continue;
                }
                if (*p != ' ' && *p != '\n')
                    rag_buf_putc(&want, *p);
            }
        }
        CHECK(ok_len);
        CHECK(ok_fence);
        CHECK(ok_utf8);
        CHECK_STR(joined.data, want.data);
        rag_buf_free(&joined);
        rag_buf_free(&want);
        rag_embed_parts_free(parts, n);
    }
    rag_buf_free(&text);
}

static void
test_fence_reopen(void)
{
    rag_buf t;
    char **parts;
    long n, i;

    rag_buf_init(&t, 1 << 16);
    rag_buf_puts(&t, "intro\n```python\n");
    for (i = 0; i < 30; i++)
        rag_buf_printf(&t, "print(%ld)\n", i);
    rag_buf_puts(&t, "```\n");
    n = rag_embed_split(t.data, t.len, 100, &parts);
    CHECK(n >= 3);
    CHECK(strncmp(parts[1], "```python\n", 10) == 0);
    CHECK(strstr(parts[0], "\n```") != NULL);
    CHECK(strstr(parts[0], "intro\n```python\nprint(0)\n") == parts[0]);
    rag_embed_parts_free(parts, n);
    rag_buf_free(&t);
}

static void
test_reply_messages(void)
{
    rag_buf *m, t;
    long n, i;
    const char *src = "[{\"n\":1,\"url\":\"https://d.example/a\","
                      "\"title\":\"A [x]\",\"heading\":\"H\",\"anchor\":"
                      "\"h\",\"score\":0.534}]";

    n = rag_embed_reply_messages("short", src, "m1", 0, &m);
    CHECK_INT(n, 1);
    CHECK(strstr(m[0].data, "\"title\":\"Help Response\"") != NULL);
    CHECK(strstr(m[0].data, "\"title\":\"Sources\"") != NULL);
    CHECK(strstr(m[0].data, "53%") != NULL);
    CHECK(strstr(m[0].data, "%0.") == NULL);
    CHECK(strstr(m[0].data, "A  x ") != NULL); /* brackets defused */
    rag_buf_free(&m[0]);
    free(m);
    n = rag_embed_reply_messages("s", "[{\"url\":\"https://d/a b>c\"}]", "m1",
                                 0, &m);
    CHECK(strstr(m[0].data, "(<https://d/a%20b%3Ec>)") != NULL);
    CHECK(strstr(m[0].data, "\"enforce_nonce\":true") != NULL);
    rag_buf_free(&m[0]);
    free(m);

    /* an abstain pings the helper role in content; answers do not */
    n = rag_embed_reply_messages("Not in the docs. <@&777> could someone "
                                 "help? <@&x> <@&8",
                                 NULL, "m3", 1, &m);
    CHECK_INT(n, 1);
    CHECK(strstr(m[0].data, "\"content\":\"<@&777>\"") != NULL);
    CHECK(strstr(m[0].data, "Not in the docs") != NULL);
    rag_buf_free(&m[0]);
    free(m);
    n = rag_embed_reply_messages("see <@&777>", NULL, "m4", 0, &m);
    CHECK(strstr(m[0].data, "\"content\"") == NULL);
    rag_buf_free(&m[0]);
    free(m);

    /* 9300 chars: parts of 4096 + 4096 + ~1100: the first two cannot
     * share a message (6000), the last two can */
    rag_buf_init(&t, 1 << 16);
    for (i = 0; i < 300; i++)
        rag_buf_puts(&t, "abcdefghijklmnopqrstuvwxyz abc\n");
    n = rag_embed_reply_messages(t.data, NULL, "m2", 0, &m);
    CHECK_INT(n, 2);
    for (i = 0; i < n; i++) {
        char nonce[RAG_NONCE_LEN + 1];
        rag_embed_nonce("m2", (unsigned)i, nonce);
        CHECK(strstr(m[i].data, nonce) != NULL);
        CHECK(m[i].len < 6000 + 600);
        rag_buf_free(&m[i]);
    }
    free(m);
    rag_buf_free(&t);
}

static void
test_nonce(void)
{
    char a[RAG_NONCE_LEN + 1], b[RAG_NONCE_LEN + 1], c[RAG_NONCE_LEN + 1];

    rag_embed_nonce("3f1c9a3e-7d5b-4f1e-9a0c-2b7d8e6f1a2b", 0, a);
    rag_embed_nonce("3f1c9a3e-7d5b-4f1e-9a0c-2b7d8e6f1a2b", 0, b);
    rag_embed_nonce("3f1c9a3e-7d5b-4f1e-9a0c-2b7d8e6f1a2b", 1, c);
    CHECK_INT(strlen(a), 25);
    CHECK_STR(a, b);          /* deterministic */
    CHECK(strcmp(a, c) != 0); /* per part */
    CHECK(strcmp(a + 1, c + 1) == 0);
    rag_embed_nonce("other", 0, b);
    CHECK(strcmp(a, b) != 0);
    /* SHA-256("abc") = ba7816bf8f01cfea414140de... */
    rag_embed_nonce("abc", 10, a);
    CHECK_STR(a, "aba7816bf8f01cfea414140de");
}

static void
test_controller(void)
{
    rag_buf b;
    rag_controller c = {"1", "42", "99", 1, 0, 1, 1, NULL};

    rag_buf_init(&b, 1 << 16);
    CHECK_INT(rag_embed_controller_json(&b, &c), 0);
    CHECK(strstr(b.data, "<@42> can vote") != NULL);
    CHECK(strstr(b.data, "marked as solved") != NULL);
    CHECK(strstr(b.data, "has been closed") != NULL);
    CHECK(strstr(b.data, "nonce") == NULL);
    /* a thread whose author is not known (no owner_id seen): no "<@>" or
     * "<@0>" mention that pings nobody */
    c.author_id = "";
    b.len = 0;
    CHECK_INT(rag_embed_controller_json(&b, &c), 0);
    CHECK(strstr(b.data, "<@>") == NULL && strstr(b.data, "<@0>") == NULL);
    CHECK(strstr(b.data, "The person who asked can vote") != NULL);
    c.author_id = NULL;
    b.len = 0;
    CHECK_INT(rag_embed_controller_json(&b, &c), 0);
    CHECK(strstr(b.data, "<@0>") == NULL);
    CHECK(strstr(b.data, "The person who asked can vote") != NULL);
    rag_buf_free(&b);
}

int
main(void)
{
    RUN(test_split_short);
    RUN(test_split_table);
    RUN(test_fence_reopen);
    RUN(test_reply_messages);
    RUN(test_nonce);
    RUN(test_controller);
    UNIT_DONE();
}
