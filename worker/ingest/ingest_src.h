/*
 * ingest_src — documents from files: a directory of Markdown/MDX, or a
 * JSON array / JSON Lines file of {url, title, body}.
 *
 * Directory: every *.md, *.mdx, *.markdown below dir (sorted, symlinks
 * not followed, files over 16 MiB skipped). The URL is url_template with
 * "{path}" replaced by the file's path relative to dir without its
 * extension ("guide/index" -> "guide/"); a front-matter "slug" replaces
 * it ("/x" from the template root, "x" relative to the file's folder) and
 * "title" names the page (else the first "# " heading, else the file
 * name). Front matter and MDX import/export lines are not part of the
 * body.
 *
 * Items own their strings; free the array with ingest_items_free.
 */
#ifndef INGEST_SRC_H
#define INGEST_SRC_H

#include <stddef.h>

typedef struct {
    char *url, *title, *body;
} ingest_item;

int ingest_read_dir(const char *dir, const char *url_template,
                    ingest_item **items, size_t *n, char *err, size_t errlen);
int ingest_read_json(const char *file, ingest_item **items, size_t *n,
                     char *err, size_t errlen);
void ingest_items_free(ingest_item *items, size_t n);

/* Splits front matter off md (in place: returns the body start) and
 * copies title / slug values ("" if absent). Exposed for tests. */
char *ingest_front_matter(char *md, char *title, size_t tlen, char *slug,
                          size_t slen);

#endif
