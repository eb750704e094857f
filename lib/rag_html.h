/*
 * rag_html — documentation HTML page -> Markdown, with libxml2's
 * forgiving HTML parser.
 *
 * Only the main content is converted. Without a selector it is found by
 * text density, with no per-site rules: the deepest plain container
 * holding most of the page's visible text (link text counts half, page
 * chrome nothing) and its title heading (rag_html.c, "main content").
 * A selector (a comma list tried left to right; each item is a simple
 * CSS selector: tag, .class, #id, tag.class, tag#id, tag[attr=value], or
 * a combination like div.body[role=main]) picks the first match instead.
 *
 * The <title> loses the site name ("Page | Site", "Page - Site"); tab
 * panels are kept under their tab's label; admonitions keep their kind
 * ("> **Warning: Custom title**"); blog listing pages are flagged
 * (listing), so are tables of contents (toc), and <link rel=canonical>
 * is reported.
 *
 * Output: headings ("## Text {#id}" — the id is the element's real
 * anchor, found on the heading, an <a id|name> or headerlink inside it,
 * or an enclosing section/div whose first heading it is), paragraphs,
 * inline code/strong/em, nested lists numbered from their start, fenced
 * code blocks with their language, Markdown tables, absolute links and
 * images, admonitions as "> **Note:** ..." quotes. Page chrome (nav,
 * header, footer, aside, scripts, buttons, "edit this page" and
 * "skip to content" links, DocBook navheader/navfooter, headerlink
 * pilcrows) is dropped; zero-width characters are removed and
 * whitespace is collapsed except inside code blocks.
 *
 * Ownership: rag_html_doc owns everything it points to; free it with
 * rag_html_doc_free (safe on a zeroed or partially filled doc).
 */
#ifndef RAG_HTML_H
#define RAG_HTML_H

#include <stddef.h>

#define RAG_HTML_MAX_INPUT (16u * 1024 * 1024)
#define RAG_HTML_MAX_OUTPUT (16u * 1024 * 1024)
#define RAG_HTML_MAX_LINKS 10000
/* Elements nested deeper than this are converted as plain text. */
#define RAG_HTML_MAX_DEPTH 200

typedef struct {
    char *title;    /* <title>, else the first <h1>; "" if neither */
    char *markdown; /* NUL-terminated */
    size_t markdown_len;
    char **links; /* every <a href> in the page, absolute, normalised,
                     fragment dropped, deduplicated, http(s) only */
    size_t nlinks;
    char *canonical; /* <link rel=canonical> made absolute, "" if none */
    int listing;     /* a blog listing, tag or author page (Docusaurus
                        page classes, or several <article> teasers) */
    int toc;         /* a table of contents: most of the main content's
                        text is link text (not with listing) */
    size_t main_chars, main_link_chars, main_links; /* what toc weighed:
                         the main content's characters, those inside
                         <a href>, and its links */
    char charset[32]; /* the charset the page was decoded from */
    long replaced;    /* invalid byte sequences replaced by U+FFFD */
    int flattened;    /* markup nested deeper than RAG_HTML_MAX_DEPTH was
                         kept as plain text (its structure is lost) */
} rag_html_doc;

/* Converts html[0..len) fetched from page_url. selector NULL/"" = the
 * default; http_charset: the charset of the HTTP Content-Type header
 * (NULL if none). The page is first decoded to UTF-8 (rag_charset.h:
 * BOM, then http_charset, then <meta>, else UTF-8; bad bytes become
 * U+FFFD), so the output is always valid UTF-8. Returns 0, or -1 with
 * err (input too large, unparsable, bad selector). */
int rag_html_convert(const char *html, size_t len, const char *page_url,
                     const char *selector, const char *http_charset,
                     rag_html_doc *out, char *err, size_t errlen);

void rag_html_doc_free(rag_html_doc *d);

/* 0 if the selector list parses (for validating configuration). */
int rag_html_selector_check(const char *selector);

/* 1 when a and b have the same letters, case and the rest ignored
 * ("seealso" and "See also"): an admonition's kind against its title. */
int rag_html_same_letters(const char *a, const char *b);

#endif
