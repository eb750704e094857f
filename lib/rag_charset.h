/*
 * rag_charset — text from the web made valid UTF-8.
 *
 * Documentation pages come in whatever encoding their server or <meta>
 * says (Latin-1, Windows-1252, Shift_JIS, ...) and sometimes with bytes
 * that are valid in none. Everything stored in Postgres must be UTF-8, so
 * every page and file passes through here first: declared charsets are
 * converted with the C library's iconv (glibc's covers every label a web
 * page uses), and any byte sequence that is not valid in its charset
 * becomes U+FFFD, one per maximal invalid subpart (Unicode's "best
 * practice"), so one bad byte costs one character, never the page.
 *
 * Ownership: results go into a caller's rag_buf (see rag_buf.h); nothing
 * is kept.
 */
#ifndef RAG_CHARSET_H
#define RAG_CHARSET_H

#include "rag_buf.h"

#include <stddef.h>

/* Appends s[0..n) to out as valid UTF-8: invalid sequences (and NUL
 * bytes, which Postgres text cannot hold) become U+FFFD. Returns the
 * number of replacements, or -1 when out is full. */
long rag_utf8_repair(const char *s, size_t n, rag_buf *out);

/* 1 when s[0..n) is valid UTF-8 without NUL bytes. */
int rag_utf8_valid(const char *s, size_t n);

/* The charset parameter of a Content-Type header value into out
 * ("text/html; charset=ISO-8859-1" -> "ISO-8859-1"); "" when absent. */
void rag_charset_from_content_type(const char *ctype, char *out, size_t outlen);

/* Decodes an HTML page to UTF-8 in out. The charset is, in order: a
 * byte-order mark, http_charset (from the HTTP header; NULL or "" if
 * none), a <meta charset> or <meta http-equiv=Content-Type> in the first
 * 1024 bytes, else UTF-8. Labels follow the WHATWG Encoding standard
 * where it differs from iconv's (iso-8859-1 and us-ascii mean
 * windows-1252; a declared UTF-16 without a BOM means UTF-8); an unknown
 * label falls back to UTF-8. The label used is copied to used (may be
 * NULL). Returns the number of replaced sequences, or -1 when out is
 * full or memory runs out. */
long rag_charset_decode_html(const char *html, size_t len,
                             const char *http_charset, rag_buf *out, char *used,
                             size_t usedlen);

#endif
