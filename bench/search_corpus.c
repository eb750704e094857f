/*
 * search_corpus — the PostgreSQL 15 manual (Debian's postgresql-doc-15)
 * as chunks, the way rag-ingest makes them from a crawl (rag_html to
 * Markdown, rag_chunk with the default options and explicit anchors),
 * written as TSV for bench/search_scale.c:
 *
 *   url#anchor \t title \t heading path \t body      (\t \n \\ escaped)
 *
 *   search_corpus HTML_DIR OUT.tsv
 */
#include "rag_chunk.h"
#include "rag_html.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
put_field(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\t')
            fputs("\\t", f);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\\')
            fputs("\\\\", f);
        else if (c != '\r')
            fputc(c, f);
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, chunks = 0;
    FILE *out;
    rag_chunk_opts co;

    if (argc != 3) {
        fprintf(stderr, "usage: %s HTML_DIR OUT.tsv\n", argv[0]);
        return 2;
    }
    if ((d = opendir(argv[1])) == NULL || (out = fopen(argv[2], "w")) == NULL) {
        perror("open");
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".html") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            names = realloc(names, cap * sizeof(char *));
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    rag_chunk_opts_default(&co);
    co.explicit_ids = 1;
    for (size_t i = 0; i < n; i++) {
        char path[4096], url[4096], err[256];
        FILE *f;
        char *html;
        long len;
        rag_html_doc hd;
        rag_chunks cs;

        snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
        snprintf(url, sizeof(url), "https://www.postgresql.org/docs/15/%s",
                 names[i]);
        if ((f = fopen(path, "rb")) == NULL)
            continue;
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        rewind(f);
        html = malloc((size_t)len + 1);
        if (fread(html, 1, (size_t)len, f) != (size_t)len)
            len = 0;
        fclose(f);
        if (rag_html_convert(html, (size_t)len, url, NULL, NULL, &hd, err,
                             sizeof(err)) == 0) {
            if (rag_chunk_markdown(hd.markdown, hd.markdown_len, hd.title, &co,
                                   &cs) == 0) {
                for (size_t c = 0; c < cs.n; c++) {
                    fputs(url, out);
                    if (*cs.v[c].anchor)
                        fprintf(out, "#%s", cs.v[c].anchor);
                    fputc('\t', out);
                    put_field(out, hd.title, strlen(hd.title));
                    fputc('\t', out);
                    put_field(out, cs.v[c].heading_path,
                              strlen(cs.v[c].heading_path));
                    fputc('\t', out);
                    put_field(out, cs.v[c].text, cs.v[c].text_len);
                    fputc('\n', out);
                    chunks++;
                }
                rag_chunks_free(&cs);
            }
            rag_html_doc_free(&hd);
        }
        free(html);
        free(names[i]);
    }
    free(names);
    if (fclose(out) != 0) {
        perror(argv[2]);
        return 1;
    }
    fprintf(stderr, "corpus: %zu pages, %zu chunks\n", n, chunks);
    return 0;
}
