/*
 * rag-admin export — solved threads, and threads whose bot answers got a
 * net positive vote, as JSONL chat transcripts for fine-tuning:
 *
 *   {"messages":[{"role":"system","content":...},
 *                {"role":"user","content":...},
 *                {"role":"assistant","content":...}, ...],
 *    "thread_id":"...","url":"https://discord.com/channels/G/T"}
 *
 * User turns are "user", bot turns "assistant". Only threads with at
 * least one (non-abstaining) bot answer are written, and no user id ever
 * is: transcripts carry message text only.
 *
 *   rag-admin export [--guild G] [--since DATE] [--out FILE]
 */
#include "conf_tables.h"
#include "admin.h"
#include "rag_db.h"
#include "rag_store_messages.h"
#include "rag_store_threads.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_MAX_MSGS 500        /* per thread; longer ones cut */
#define EXPORT_MAX_LINE (4u << 20) /* bytes of one JSONL line */

#define EXPORT_DEFAULT_SYSTEM                                                  \
    "You are a support assistant for a software project's community. "         \
    "Answer from the documentation, cite your sources, and say so when "       \
    "the documentation does not cover the question."

const char *
admin_transcript_role(int from_bot)
{
    return from_bot ? "assistant" : "user";
}

int
admin_transcript_json(rag_buf *out, const char *system_prompt,
                      const char *thread_id, const char *url,
                      const char *const *contents, const int *from_bot,
                      size_t n)
{
    size_t i, mark = out->len;
    int bot = 0, rc = 0;

    for (i = 0; i < n; i++)
        bot |= from_bot[i] != 0;
    if (!bot)
        return -1;
    rc |= rag_buf_puts(out, "{\"messages\":[{\"role\":\"system\","
                            "\"content\":");
    rc |= rag_buf_json_str(out, system_prompt, strlen(system_prompt));
    rc |= rag_buf_putc(out, '}');
    for (i = 0; i < n; i++) {
        rc |= rag_buf_printf(out, ",{\"role\":\"%s\",\"content\":",
                             admin_transcript_role(from_bot[i]));
        rc |= rag_buf_json_str(out, contents[i], strlen(contents[i]));
        rc |= rag_buf_putc(out, '}');
    }
    rc |= rag_buf_puts(out, "],\"thread_id\":");
    rc |= rag_buf_json_str(out, thread_id, strlen(thread_id));
    rc |= rag_buf_puts(out, ",\"url\":");
    rc |= rag_buf_json_str(out, url, strlen(url));
    rc |= rag_buf_puts(out, "}\n");
    if (rc != 0) {
        out->len = mark; /* drop the partial line */
        if (out->data)
            out->data[mark] = '\0';
        return -1;
    }
    return 0;
}

static int
export_thread(PGconn *db, FILE *f, const char *sys, const char *thread,
              const char *guild)
{
    const char *contents[EXPORT_MAX_MSGS];
    int from_bot[EXPORT_MAX_MSGS];
    char url[256];
    PGresult *res;
    rag_buf line;
    int i, n, rc = -1;

    res = rag_store_messages_transcript(db, thread, EXPORT_MAX_MSGS);
    if (res == NULL)
        return -1;
    n = PQntuples(res);
    if (n > EXPORT_MAX_MSGS)
        n = EXPORT_MAX_MSGS;
    for (i = 0; i < n; i++) {
        contents[i] = PQgetvalue(res, i, 0);
        from_bot[i] = PQgetvalue(res, i, 1)[0] == 't';
    }
    snprintf(url, sizeof(url), "https://discord.com/channels/%s/%s", guild,
             thread);
    rag_buf_init(&line, EXPORT_MAX_LINE);
    if (admin_transcript_json(&line, sys, thread, url, contents, from_bot,
                              (size_t)n) != 0) {
        rc = 0; /* no bot turn or too long: skipped */
        goto done;
    }
    if (fwrite(line.data, 1, line.len, f) != line.len)
        goto done;
    rc = 1;
done:
    rag_buf_free(&line);
    PQclear(res);
    return rc;
}

int
admin_export(PGconn *db, rag_conf *conf, int argc, char **argv)
{
    const char *guild = NULL, *since = NULL, *out = NULL, *sys;
    PGresult *res = NULL;
    FILE *f = stdout;
    long written = 0;
    int a, i, n, rc = 1, r;

    for (a = 0; a + 1 < argc; a += 2) {
        if (strcmp(argv[a], "--guild") == 0)
            guild = argv[a + 1];
        else if (strcmp(argv[a], "--since") == 0)
            since = argv[a + 1];
        else if (strcmp(argv[a], "--out") == 0)
            out = argv[a + 1];
        else
            break;
    }
    if (a != argc) {
        fprintf(stderr, "usage: rag-admin export [--guild G] [--since DATE]"
                        " [--out FILE]\n");
        return 2;
    }
    sys = rag_conf_str(conf, &rag_conf_admin_own, "export_system_prompt");
    if (sys == NULL)
        sys = EXPORT_DEFAULT_SYSTEM;
    res = rag_store_threads_to_export(db, guild, since);
    if (res == NULL) {
        fprintf(stderr, "rag-admin export: query failed: %s\n",
                rag_db_last_error()->message);
        return 1;
    }
    if (out != NULL && (f = fopen(out, "w")) == NULL) {
        fprintf(stderr, "rag-admin export: %s: %s\n", out, strerror(errno));
        goto done;
    }
    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        r = export_thread(db, f, sys, PQgetvalue(res, i, 0),
                          PQgetvalue(res, i, 1));
        if (r < 0) {
            fprintf(stderr, "rag-admin export: thread %s failed\n",
                    PQgetvalue(res, i, 0));
            goto done;
        }
        written += r;
    }
    if (fflush(f) != 0) {
        fprintf(stderr, "rag-admin export: write: %s\n", strerror(errno));
        goto done;
    }
    fprintf(stderr, "export: %ld threads\n", written);
    rc = 0;
done:
    if (f != stdout && f != NULL && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "rag-admin export: close: %s\n", strerror(errno));
        rc = 1;
    }
    PQclear(res);
    return rc;
}
