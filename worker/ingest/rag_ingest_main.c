/*
 * rag-ingest — crawl or read documentation into a collection.
 *
 *   rag-ingest [-c conf] --collection NAME
 *       (--dir DIR --url-template 'https://x/docs/{path}'
 *        | --site URL [--sitemap URL] [--include PREFIX]...
 *          [--exclude PREFIX]...
 *        | --json FILE | --rechunk | --reindex)
 *       [--selector CSS] [--allow-private] [--force] [--delay SEC]
 *       [--max-pages N] [--concurrency N] [--keep-generated] [--quiet]
 *   rag-ingest --convert FILE.html --url PAGE_URL [--selector CSS]
 *   rag-ingest --convert DIR     (throughput of convert + chunk, in-process)
 *   rag-ingest [-c conf] --job '{"collection":..,"source":{..}}'  (the
 *       worker's ingest job, e.g. {"type":"rechunk"})
 *   rag-ingest -h | --help
 *
 * Conf/env: database_url, index_dir, embed_*, chunk_tokens,
 * chunk_overlap, crawl_delay, crawl_timeout_ms, crawl_max_bytes,
 * crawl_max_pages, crawl_concurrency (requests in flight, default 4).
 * Prints a progress bar on a TTY and one summary line on stdout. Exit
 * codes: 0 success (pages that failed alone are counted in failed=, the
 * rest is indexed), 1 failure (nothing indexed), 2 bad usage, 3 partial
 * crawl: the page limit (--max-pages / crawl_max_pages, 10000) stopped
 * it, what was fetched is indexed, nothing was deleted, and the summary
 * counts the URLs left in unvisited=.
 */
#include "conf_tables.h"
#include "ingest.h"
#include "rag_time.h"
#include "rag_buf.h"
#include "rag_chunk.h"
#include "rag_conf.h"
#include "rag_db.h"
#include "rag_html.h"
#include "rag_http.h"
#include "rag_log.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fprintf(f, "usage: rag-ingest [-c conf] --collection NAME\n"
               "         (--dir DIR --url-template 'https://x/docs/{path}'\n"
               "          | --site URL [--sitemap URL] [--include PREFIX]..."
               " [--exclude PREFIX]...\n"
               "          | --json FILE | --rechunk | --reindex)\n"
               "         [--selector CSS] [--allow-private] [--force]"
               " [--delay SEC] [--max-pages N] [--concurrency N]"
               " [--keep-generated] [--quiet]\n"
               "       rag-ingest [-c conf] --job JSON\n"
               "       rag-ingest --convert FILE.html --url PAGE_URL"
               " [--selector CSS]\n"
               "       rag-ingest --convert DIR [--selector CSS]\n"
               "       rag-ingest -h | --help\n");
}

/* --convert FILE --url URL: print the page's title, links and Markdown
 * (for checking a selector against a real page, and for the tests). */
static int
convert_file(const char *path, const char *url, const char *selector)
{
    FILE *f = fopen(path, "rb");
    rag_buf b;
    rag_html_doc d;
    char tmp[65536], err[256];
    size_t n;
    int rc = 1;

    if (f == NULL) {
        perror(path);
        return 1;
    }
    rag_buf_init(&b, RAG_HTML_MAX_INPUT);
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        if (rag_buf_append(&b, tmp, n) != 0) {
            fprintf(stderr, "rag-ingest: %s: too large\n", path);
            goto done;
        }
    if (rag_html_convert(b.data ? b.data : "", b.len, url, selector, NULL, &d,
                         err, sizeof(err)) != 0) {
        fprintf(stderr, "rag-ingest: %s: %s\n", path, err);
        goto done;
    }
    printf("title: %s\n", d.title);
    for (size_t i = 0; i < d.nlinks; i++)
        printf("link: %s\n", d.links[i]);
    printf("\n%s", d.markdown);
    rag_html_doc_free(&d);
    rc = 0;
done:
    if (f)
        fclose(f);
    rag_buf_free(&b);
    return rc;
}

/* --convert DIR: converts (and chunks) every *.html in DIR in-process and
 * prints throughput (bench/ingest.sh). */
static int
convert_dir(const char *dir, const char *selector)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    double t0, t1;
    double secs = 0, csecs = 0;
    size_t pages = 0, bytes = 0, mdbytes = 0, chunks = 0;
    rag_buf b;

    if (d == NULL) {
        perror(dir);
        return 1;
    }
    rag_buf_init(&b, RAG_HTML_MAX_INPUT);
    while ((e = readdir(d)) != NULL) {
        char path[4096], url[4200], err[256], tmp[65536];
        size_t n, len = strlen(e->d_name);
        rag_html_doc hd;
        rag_chunks cs;
        FILE *f;

        if (len < 6 || strcmp(e->d_name + len - 5, ".html") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        snprintf(url, sizeof(url), "https://docs.example.org/%s", e->d_name);
        if ((f = fopen(path, "rb")) == NULL)
            continue;
        rag_buf_reset(&b);
        while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
            if (rag_buf_append(&b, tmp, n) != 0)
                break;
        fclose(f);
        t0 = rag_time_mono_s();
        if (rag_html_convert(b.data ? b.data : "", b.len, url, selector, NULL,
                             &hd, err, sizeof(err)) != 0)
            continue;
        t1 = rag_time_mono_s();
        secs += t1 - t0;
        if (rag_chunk_markdown(hd.markdown, hd.markdown_len, hd.title, NULL,
                               &cs) == 0) {
            chunks += cs.n;
            rag_chunks_free(&cs);
        }
        t0 = rag_time_mono_s();
        csecs += t0 - t1;
        pages++;
        bytes += b.len;
        mdbytes += hd.markdown_len;
        rag_html_doc_free(&hd);
    }
    closedir(d);
    rag_buf_free(&b);
    printf("convert: %zu pages, %.1f MB HTML -> %.1f MB Markdown in %.3f s: "
           "%.0f pages/s, %.1f MB/s\n",
           pages, bytes / 1e6, mdbytes / 1e6, secs, pages / secs,
           bytes / 1e6 / secs);
    printf("chunk: %zu chunks in %.3f s: %.0f chunks/s\n", chunks, csecs,
           chunks / csecs);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"collection", required_argument, NULL, 'C'},
        {"dir", required_argument, NULL, 'd'},
        {"url-template", required_argument, NULL, 't'},
        {"site", required_argument, NULL, 's'},
        {"sitemap", required_argument, NULL, 'm'},
        {"include", required_argument, NULL, 'i'},
        {"exclude", required_argument, NULL, 'x'},
        {"json", required_argument, NULL, 'j'},
        {"selector", required_argument, NULL, 'S'},
        {"allow-private", no_argument, NULL, 'P'},
        {"force", no_argument, NULL, 'F'},
        {"delay", required_argument, NULL, 'D'},
        {"max-pages", required_argument, NULL, 'M'},
        {"concurrency", required_argument, NULL, 'N'},
        {"reindex", no_argument, NULL, 'R'},
        {"rechunk", no_argument, NULL, 'K'},
        {"quiet", no_argument, NULL, 'q'},
        {"convert", required_argument, NULL, 'V'},
        {"url", required_argument, NULL, 'U'},
        {"job", required_argument, NULL, 'J'},
        {"keep-generated", no_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    rag_ingest_opts o;
    rag_ingest_stats st;
    const char *conf_path = NULL, *convert = NULL, *page_url = NULL;
    const char *job = NULL;
    char err[1024], line[512];
    int c, nsrc = 0, quiet = 0, rc = 1;
    rag_conf *conf = NULL;
    PGconn *db = NULL;

    memset(&o, 0, sizeof(o));
    o.delay = -1;
    while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf_path = optarg;
            break;
        case 'C':
            o.collection = optarg;
            break;
        case 'd':
            o.dir = optarg;
            o.type = INGEST_DIR;
            nsrc++;
            break;
        case 't':
            o.url_template = optarg;
            break;
        case 's':
            o.site = optarg;
            o.type = INGEST_SITE;
            nsrc++;
            break;
        case 'm':
            o.sitemap = optarg;
            break;
        case 'i':
            if (o.ninclude == INGEST_MAX_PREFIXES)
                goto bad;
            o.include[o.ninclude++] = optarg;
            break;
        case 'x':
            if (o.nexclude == INGEST_MAX_PREFIXES)
                goto bad;
            o.exclude[o.nexclude++] = optarg;
            break;
        case 'j':
            o.json = optarg;
            o.type = INGEST_JSON;
            nsrc++;
            break;
        case 'S':
            o.selector = optarg;
            break;
        case 'P':
            o.allow_private = 1;
            break;
        case 'F':
            o.force = 1;
            break;
        case 'D':
            o.delay = strtod(optarg, NULL);
            break;
        case 'M':
            o.max_pages = strtol(optarg, NULL, 10);
            break;
        case 'N':
            o.concurrency = (int)strtol(optarg, NULL, 10);
            break;
        case 'R':
            o.type = INGEST_REINDEX_ONLY;
            nsrc++;
            break;
        case 'K':
            o.type = INGEST_RECHUNK;
            nsrc++;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'G':
            o.keep_generated = 1;
            break;
        case 'V':
            convert = optarg;
            break;
        case 'U':
            page_url = optarg;
            break;
        case 'J':
            job = optarg;
            nsrc++;
            o.collection = "-";
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto bad;
        }
    }
    if (convert && page_url && optind == argc)
        return convert_file(convert, page_url, o.selector);
    if (convert && optind == argc)
        return convert_dir(convert, o.selector);
    if (optind != argc || !o.collection || nsrc != 1 ||
        (o.type == INGEST_DIR && !o.url_template) || o.delay > 60 ||
        o.concurrency < 0 || o.concurrency > 16 ||
        (o.selector && rag_html_selector_check(o.selector) != 0))
        goto bad;
    o.progress = !quiet && isatty(2);
    conf = rag_conf_load_program(conf_path, &rag_conf_prog_ingest, err,
                                 sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "rag-ingest: %s\n", err);
        return 1;
    }
    rag_conf_apply_log_level(conf, &rag_conf_ingest_own);
    rag_http_global_init();
    db =
        rag_db_connect(rag_conf_database(conf), "rag-ingest", err, sizeof(err));
    if (db == NULL) {
        fprintf(stderr, "rag-ingest: database: %s\n", err);
        goto done;
    }
    if (job) {
        /* the worker's 'ingest' job path, for testing and by hand */
        rc = rag_ingest_run_job(db, conf, job, err, sizeof(err)) == 0 ? 0 : 1;
        if (rc != 0)
            fprintf(stderr, "rag-ingest: %s\n", err);
        goto done;
    }
    rc = rag_ingest_run(db, conf, &o, &st, err, sizeof(err)) == 0 ? 0 : 1;
    rag_ingest_format_stats(&st, line, sizeof(line));
    printf("%s\n", line);
    if (rc != 0) {
        fprintf(stderr, "rag-ingest: %s\n", err);
    } else if (st.partial) {
        fprintf(stderr,
                "rag-ingest: partial crawl: page limit %ld reached, %ld URLs "
                "not fetched (raise --max-pages or crawl_max_pages)\n",
                st.max_pages, st.unvisited);
        rc = 3;
    }
done:
    if (db)
        PQfinish(db);
    rag_conf_free(conf);
    return rc;
bad:
    usage(stderr);
    return 2;
}
