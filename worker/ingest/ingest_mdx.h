/*
 * ingest_mdx — Docusaurus Markdown/MDX sources made into the Markdown
 * that rag_html makes of the built page, so a --dir ingest of a docs
 * checkout indexes what readers of the site see:
 *
 *   - import/export lines, MDX comments ("{" slash-star ... star-slash
 *     "}") and HTML comments are dropped;
 *   - admonitions ":::note", ":::tip[Title]", ":::tip Title" (nested
 *     with more colons) become "> **Note:** ..." / "> **Tip: Title**";
 *   - <Tabs>/<TabItem label="X"> become a "**X:**" line before each
 *     panel; <details><summary>X</summary> a "**X**" line; any other line
 *     that is only a JSX/HTML tag is dropped (its text lines stay);
 *   - relative links to other sources ("./setup.md#x") become the URL of
 *     that page, other relative links are resolved against the page;
 *   - code blocks lose Docusaurus' magic comments (highlight-start,
 *     highlight-end, highlight-next-line) and their fence metadata; a
 *     title="..." becomes a line above the block, as the site shows it.
 *
 * Code blocks are otherwise copied byte for byte.
 */
#ifndef INGEST_MDX_H
#define INGEST_MDX_H

#include "rag_buf.h"

/* Maps a source file (path relative to the docs folder, extension
 * included) to its page URL; 0 or -1. */
typedef int (*ingest_mdx_link_fn)(void *ud, const char *rel_file, char *url,
                                  size_t urllen);

/* Converts md[0..len) of the file rel_file, published at page_url, into
 * out. link maps other sources to URLs. 0 or -1 (out full). */
int ingest_mdx_convert(const char *md, size_t len, const char *rel_file,
                       const char *page_url, ingest_mdx_link_fn link, void *ud,
                       rag_buf *out);

#endif
