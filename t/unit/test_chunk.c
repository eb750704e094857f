/* Chunker: examples plus property tests over generated Markdown. */
#include "rag_buf.h"
#include "rag_chunk.h"
#include "rag_tokens.h"
#include "unit.h"

#include <stdlib.h>

/* Fences in text are balanced (same rule as the chunker). */
static int
fences_balanced(const char *t)
{
    int open = 0;
    char ch = 0;
    size_t flen = 0;

    while (*t) {
        const char *nl = strchr(t, '\n');
        size_t n = nl ? (size_t)(nl - t) : strlen(t), i = 0, k;
        /* container prefix: indentation and blockquote markers */
        while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '>'))
            i++;
        if (i < n && (t[i] == '`' || t[i] == '~')) {
            for (k = i; k < n && t[k] == t[i]; k++)
                ;
            if (!open && k - i >= 3 &&
                !(t[i] == '`' && memchr(t + k, '`', n - k))) {
                open = 1;
                ch = t[i];
                flen = k - i;
            } else if (open && t[i] == ch && k - i >= flen) {
                size_t j = k;
                while (j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r'))
                    j++;
                if (j == n)
                    open = 0;
            }
        }
        if (!nl)
            break;
        t = nl + 1;
    }
    return !open;
}

static int props_failed;

static void
check_props(const char *md, size_t len, const rag_chunk_opts *o)
{
    rag_chunks cs;
    size_t pos = 0;
    int ok = 1;

    if (rag_chunk_markdown(md, len, "Page", o, &cs) != 0) {
        CHECK(!"chunker failed");
        return;
    }
    for (size_t i = 0; i < cs.n; i++) {
        const rag_chunk *ch = &cs.v[i];
        /* partition, in order */
        if (ch->off != pos || ch->len == 0) {
            fprintf(stderr, "chunk %zu: off %zu want %zu len %zu\n", i, ch->off,
                    pos, ch->len);
            ok = 0;
        }
        pos = ch->off + ch->len;
        /* size limit, except one uncuttable line */
        const char *nl = memchr(md + ch->off, '\n', ch->len);
        int one_line = nl == NULL || (size_t)(nl - md) == ch->off + ch->len - 1;
        if (ch->tokens > o->max_tokens && !one_line) {
            fprintf(stderr, "chunk %zu: %zu tokens > %zu\n", i, ch->tokens,
                    o->max_tokens);
            ok = 0;
        }
        if (ch->tokens != rag_tokens_estimate(ch->text, ch->text_len))
            ok = 0;
        if (!fences_balanced(ch->text)) {
            fprintf(stderr, "chunk %zu: unbalanced fence:\n%s\n", i, ch->text);
            ok = 0;
        }
        /* overlap bounded and taken from just before the chunk */
        if (ch->overlap_off > ch->off ||
            rag_tokens_estimate(md + ch->overlap_off,
                                ch->off - ch->overlap_off) >
                o->overlap_tokens) {
            fprintf(stderr, "chunk %zu: overlap too large\n", i);
            ok = 0;
        }
        if (i > 0 && ch->overlap_off < cs.v[i - 1].off + 1 &&
            ch->overlap_off != ch->off)
            ok = 0;
        /* the own bytes are in the text (no {#id} in the generated md) */
        if (ch->len < 4000) {
            char *own = strndup(md + ch->off, ch->len);
            if (own && !strstr(ch->text, own)) {
                fprintf(stderr, "chunk %zu: own bytes missing\n", i);
                ok = 0;
            }
            free(own);
        }
    }
    if (pos != len) {
        fprintf(stderr, "covered %zu of %zu\n", pos, len);
        ok = 0;
    }
    if (!ok)
        props_failed++;
    CHECK(ok);
    rag_chunks_free(&cs);
}

static const char *words[] = {
    "the",
    "database",
    "SELECT",
    "configuration",
    "internationalization",
    "a",
    "of",
    "PostgreSQL",
    "index",
    "x",
    "to",
    "performance",
    "is",
    "`code`",
    "**bold**",
    "[link](https://e.org/p)",
    "12345",
    "é",
    "可以",
};

static void
gen_words(rag_buf *b, unsigned *seed, int n)
{
    for (int i = 0; i < n; i++) {
        rag_buf_puts(b, words[rand_r(seed) % (sizeof(words) / sizeof(*words))]);
        rag_buf_putc(b, i + 1 < n ? ' ' : '\n');
    }
}

static void
gen_doc(rag_buf *b, unsigned *seed)
{
    int blocks = 1 + rand_r(seed) % 40;

    for (int k = 0; k < blocks; k++) {
        int kind = rand_r(seed) % 8;
        if (kind == 0) {
            int lvl = 1 + rand_r(seed) % 4;
            for (int i = 0; i < lvl; i++)
                rag_buf_putc(b, '#');
            rag_buf_putc(b, ' ');
            gen_words(b, seed, 1 + rand_r(seed) % 5);
        } else if (kind == 1) {
            int lines = 1 + rand_r(seed) % 120, ticks = 3 + rand_r(seed) % 2;
            for (int i = 0; i < ticks; i++)
                rag_buf_putc(b, '`');
            rag_buf_puts(b, rand_r(seed) % 2 ? "sql\n" : "\n");
            for (int i = 0; i < lines; i++) {
                if (rand_r(seed) % 10 == 0)
                    rag_buf_puts(b, "```inner```\n");
                else
                    gen_words(b, seed, rand_r(seed) % 12);
            }
            for (int i = 0; i < ticks; i++)
                rag_buf_putc(b, '`');
            rag_buf_putc(b, '\n');
        } else if (kind == 2) {
            int rows = 1 + rand_r(seed) % 80;
            rag_buf_puts(b, "| a | b |\n|---|---|\n");
            for (int i = 0; i < rows; i++) {
                rag_buf_puts(b, "| ");
                gen_words(b, seed, 1 + rand_r(seed) % 20);
                b->data[b->len - 1] = ' ';
                rag_buf_puts(b, "|\n");
            }
        } else if (kind == 3) {
            /* one very long paragraph line */
            gen_words(b, seed, 200 + rand_r(seed) % 1500);
        } else if (kind == 4) {
            int items = 1 + rand_r(seed) % 10;
            for (int i = 0; i < items; i++) {
                rag_buf_printf(b, "%d. ", i + 1);
                gen_words(b, seed, 1 + rand_r(seed) % 30);
            }
        } else if (kind == 5) {
            /* a single uncuttable "word" */
            for (int i = 0; i < 3000; i++)
                rag_buf_putc(b, 'a' + (char)(i % 26));
            rag_buf_putc(b, '\n');
        } else {
            gen_words(b, seed, 1 + rand_r(seed) % 80);
        }
        if (rand_r(seed) % 3)
            rag_buf_putc(b, '\n');
    }
    if (rand_r(seed) % 4 == 0 && b->len)
        b->len--, b->data[b->len] = '\0'; /* no final newline */
}

static void
test_properties(void)
{
    rag_chunk_opts o;
    unsigned seed = 12345;

    for (int i = 0; i < 300; i++) {
        rag_buf b;
        rag_buf_init(&b, 0);
        gen_doc(&b, &seed);
        o.max_tokens = 100 + rand_r(&seed) % 700;
        o.overlap_tokens = o.max_tokens * (rand_r(&seed) % 40) / 100;
        o.min_tokens = o.max_tokens / 5;
        o.explicit_ids = (int)(rand_r(&seed) % 2);
        check_props(b.data ? b.data : "", b.len, &o);
        rag_buf_free(&b);
    }
    CHECK_INT(props_failed, 0);
}

static void
test_headings(void)
{
    const char *md =
        "# Guide\n\nIntro text.\n\n## Install {#setup}\n\nRun it.\n\n"
        "### On Debian\n\nUse apt.\n\n## Install\n\nAgain.\n\n"
        "## `rag_x()` and *more*\n\ntext\n";
    rag_chunk_opts o = {50, 0, 1, 0};
    rag_chunks cs;
    char text[128], id[64];

    CHECK_INT(rag_md_heading("## Install {#setup}\n", 20, text, sizeof(text),
                             id, sizeof(id)),
              2);
    CHECK_STR(text, "Install");
    CHECK_STR(id, "setup");
    CHECK_INT(rag_md_heading("## Install {/* #custom-id */}", 29, text,
                             sizeof(text), id, sizeof(id)),
              2);
    CHECK_STR(text, "Install");
    CHECK_STR(id, "custom-id");
    CHECK_INT(
        rag_md_heading("#hashtag\n", 9, text, sizeof(text), id, sizeof(id)), 0);
    CHECK_INT(rag_md_heading("### A [link](http://x) ###\n", 27, text,
                             sizeof(text), id, sizeof(id)),
              3);
    CHECK_STR(text, "A link");
    rag_slug("Hello, World! (v2)", 18, text, sizeof(text));
    CHECK_STR(text, "hello-world-v2");
    rag_slug("rag_x() and more", 16, text, sizeof(text));
    CHECK_STR(text, "rag_x-and-more");

    CHECK(rag_chunk_markdown(md, strlen(md), "Guide", &o, &cs) == 0);
    CHECK_INT(cs.n, 5);
    if (cs.n == 5) {
        CHECK_STR(cs.v[0].heading_path, "Guide");
        CHECK_STR(cs.v[1].heading_path, "Guide > Install");
        CHECK_STR(cs.v[1].anchor, "setup");
        CHECK(strstr(cs.v[1].text, "{#") == NULL);
        CHECK(strstr(cs.v[1].text, "## Install\n") != NULL);
        CHECK_STR(cs.v[2].heading_path, "Guide > Install > On Debian");
        CHECK_STR(cs.v[2].anchor, "on-debian");
        CHECK_STR(cs.v[3].anchor, "install");
        CHECK_STR(cs.v[4].anchor, "rag_x-and-more");
        CHECK_STR(cs.v[4].heading_path, "Guide > rag_x() and more");
    }
    rag_chunks_free(&cs);
}

static void
test_explicit_ids(void)
{
    const char *md =
        "# T\n\n## A {#real-a}\n\ntext a\n\n### Sub\n\nsub text\n\n"
        "## B\n\ntext b\n\n## Install\n\nx\n\n## Install-guide\n\n"
        "y\n\n## Install\n\nz\n";
    rag_chunk_opts o = {50, 0, 1, 1};
    rag_chunks cs;

    CHECK(rag_chunk_markdown(md, strlen(md), "T", &o, &cs) == 0);
    CHECK_INT(cs.n, 7);
    if (cs.n == 7) {
        CHECK_STR(cs.v[1].anchor, "real-a");
        CHECK_STR(cs.v[2].anchor, "real-a"); /* Sub: its parent's */
        CHECK_STR(cs.v[3].anchor, "");       /* B: page top */
    }
    rag_chunks_free(&cs);
    o.explicit_ids = 0;
    CHECK(rag_chunk_markdown(md, strlen(md), "T", &o, &cs) == 0);
    if (cs.n == 7) {
        CHECK_STR(cs.v[2].anchor, "sub");
        CHECK_STR(cs.v[4].anchor, "install");
        CHECK_STR(cs.v[5].anchor, "install-guide");
        CHECK_STR(cs.v[6].anchor, "install-1");
    }
    rag_chunks_free(&cs);
}

/* DocBook pages title their sect1 with an h2 equal to <title>: the
 * breadcrumb must not say it twice (issue 16). */
static void
test_path_no_repeat(void)
{
    const char *md = "## 15.3. Parallel Plans {#PARALLEL-PLANS}\n\nIntro.\n\n"
                     "### 15.3.1. Parallel Scans {#PARALLEL-SCANS}\n\nScan.\n";
    rag_chunk_opts o = {50, 0, 1, 1};
    rag_chunks cs;

    CHECK(rag_chunk_markdown(md, strlen(md), "15.3. Parallel Plans", &o, &cs) ==
          0);
    CHECK_INT(cs.n, 2);
    if (cs.n == 2) {
        CHECK_STR(cs.v[0].heading_path, "15.3. Parallel Plans");
        CHECK_STR(cs.v[1].heading_path,
                  "15.3. Parallel Plans > 15.3.1. Parallel Scans");
    }
    rag_chunks_free(&cs);
}

/* Small sections packed into one chunk: the chunk links to the section
 * that holds all of its text, not to the first one (issue 16). */
static void
test_packed_anchor(void)
{
    const char *md = "# T\n\n## Install {#install}\n\n"
                     "### Debian {#debian}\n\nUse apt.\n\n"
                     "### macOS {#macos}\n\nUse brew.\n";
    rag_chunk_opts o;
    rag_chunks cs;

    rag_chunk_opts_default(&o);
    CHECK(rag_chunk_markdown(md, strlen(md), "T", &o, &cs) == 0);
    CHECK_INT(cs.n, 1);
    if (cs.n == 1) {
        /* the chunk starts at the page title: the page holds it all */
        CHECK_STR(cs.v[0].anchor, "");
        CHECK_STR(cs.v[0].heading_path, "T");
    }
    rag_chunks_free(&cs);
    md = "## Install {#install}\n\n### Debian {#debian}\n\nUse apt.\n\n"
         "### macOS {#macos}\n\nUse brew.\n";
    CHECK(rag_chunk_markdown(md, strlen(md), "T", &o, &cs) == 0);
    CHECK_INT(cs.n, 1);
    if (cs.n == 1) {
        CHECK_STR(cs.v[0].anchor, "install");
        CHECK_STR(cs.v[0].heading_path, "T > Install");
    }
    rag_chunks_free(&cs);
    md = "### macOS {#macos}\n\nUse brew.\n\nAnd more.\n";
    CHECK(rag_chunk_markdown(md, strlen(md), "T", &o, &cs) == 0);
    if (cs.n == 1)
        CHECK_STR(cs.v[0].anchor, "macos");
    rag_chunks_free(&cs);
}

static void
test_tiny_sections_merge(void)
{
    const char *md = "# T\n\n## A\n\nshort\n\n## B\n\nshort too\n\n## C\n\nx\n";
    rag_chunk_opts o;
    rag_chunks cs;

    rag_chunk_opts_default(&o);
    CHECK(rag_chunk_markdown(md, strlen(md), "T", &o, &cs) == 0);
    CHECK_INT(cs.n, 1);
    if (cs.n)
        CHECK_STR(cs.v[0].text, md);
    rag_chunks_free(&cs);
}

static void
test_fence_split(void)
{
    rag_buf b;
    rag_chunk_opts o = {60, 10, 10, 0};
    rag_chunks cs;

    rag_buf_init(&b, 0);
    rag_buf_puts(&b, "## Code\n\n````python\n");
    for (int i = 0; i < 60; i++)
        rag_buf_printf(&b, "print(%d)  # ``` not a fence\n", i);
    rag_buf_puts(&b, "````\n\nAfter.\n");
    CHECK(rag_chunk_markdown(b.data, b.len, "P", &o, &cs) == 0);
    CHECK(cs.n > 2);
    for (size_t i = 0; i < cs.n; i++) {
        CHECK(fences_balanced(cs.v[i].text));
        if (i > 0 && i + 1 < cs.n)
            CHECK(strncmp(cs.v[i].text, "````python\n", 11) == 0);
        CHECK_STR(cs.v[i].anchor, "code");
    }
    rag_chunks_free(&cs);
    rag_buf_free(&b);
}

/* A long code block inside an admonition (a "> " quote): every chunk
 * re-opens and closes the fence inside the quote (issue 16). */
static void
test_quoted_fence_split(void)
{
    rag_buf b;
    rag_chunk_opts o = {60, 10, 10, 0};
    rag_chunks cs;

    rag_buf_init(&b, 0);
    rag_buf_puts(&b, "## Tip\n\n> **Note:** Run this:\n>\n> ```python\n");
    for (int i = 0; i < 60; i++)
        rag_buf_printf(&b, "> print(%d)\n", i);
    rag_buf_puts(&b, "> ```\n\nAfter.\n");
    CHECK(rag_chunk_markdown(b.data, b.len, "P", &o, &cs) == 0);
    CHECK(cs.n > 2);
    for (size_t i = 0; i < cs.n; i++) {
        CHECK(fences_balanced(cs.v[i].text));
        if (!fences_balanced(cs.v[i].text))
            fprintf(stderr, "chunk %zu:\n%s\n", i, cs.v[i].text);
        if (i > 0 && i + 1 < cs.n)
            CHECK(strncmp(cs.v[i].text, "> ```python\n", 12) == 0);
    }
    rag_chunks_free(&cs);
    rag_buf_free(&b);
}

static void
test_table_split(void)
{
    rag_buf b;
    rag_chunk_opts o = {60, 0, 10, 0};
    rag_chunks cs;

    rag_buf_init(&b, 0);
    rag_buf_puts(&b, "| Name | Size |\n|---|---|\n");
    for (int i = 0; i < 50; i++)
        rag_buf_printf(&b, "| row%d | %d bytes |\n", i, i * 2);
    CHECK(rag_chunk_markdown(b.data, b.len, "P", &o, &cs) == 0);
    CHECK(cs.n > 2);
    for (size_t i = 0; i < cs.n; i++) {
        CHECK(strncmp(cs.v[i].text, "| Name | Size |\n|---|---|\n", 26) == 0);
        /* every line is a whole row */
        const char *t = cs.v[i].text;
        while (*t) {
            CHECK(*t == '|');
            const char *nl = strchr(t, '\n');
            CHECK(nl && nl[-1] == '|');
            if (!nl)
                break;
            t = nl + 1;
        }
    }
    rag_chunks_free(&cs);
    rag_buf_free(&b);
}

static void
test_empty(void)
{
    rag_chunks cs;

    CHECK(rag_chunk_markdown("", 0, "T", NULL, &cs) == 0);
    CHECK_INT(cs.n, 0);
    rag_chunks_free(&cs);
}

int
main(void)
{
    RUN(test_headings);
    RUN(test_explicit_ids);
    RUN(test_path_no_repeat);
    RUN(test_packed_anchor);
    RUN(test_tiny_sections_merge);
    RUN(test_fence_split);
    RUN(test_quoted_fence_split);
    RUN(test_table_split);
    RUN(test_empty);
    RUN(test_properties);
    UNIT_DONE();
}
