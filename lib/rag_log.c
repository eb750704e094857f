#include "rag_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define RAG_LOG_MAX_LINE 4096

/* Process-wide by nature (stderr is too); set once at start-up. */
static enum rag_log_level rag_log_min = RAG_LOG_INFO;
static rag_log_sink_fn rag_log_sink;
static void *rag_log_sink_ud;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
rag_log_set_level(enum rag_log_level lvl)
{
    rag_log_min = lvl;
}

int
rag_log_parse_level(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

const char *
rag_log_level_name(enum rag_log_level lvl)
{
    return lvl <= RAG_LOG_ERROR ? level_names[lvl] : "error";
}

void
rag_log_set_sink(rag_log_sink_fn fn, void *ud)
{
    rag_log_sink = fn;
    rag_log_sink_ud = ud;
}

/* The default sink's prefix: UTC time to the millisecond and the level. */
static int
stderr_prefix(char *line, size_t size, enum rag_log_level lvl)
{
    char ts[32];
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    return snprintf(line, size, "%s.%03dZ level=%s ", ts,
                    (int)(tv.tv_usec / 1000), level_names[lvl]);
}

void
rag_log(enum rag_log_level lvl, const char *fmt, ...)
{
    char line[RAG_LOG_MAX_LINE];
    size_t n = 0, len;
    va_list ap;
    int r;

    if (lvl < rag_log_min)
        return;
    if (rag_log_sink == NULL) {
        r = stderr_prefix(line, sizeof(line), lvl);
        n = r > 0 && (size_t)r < sizeof(line) ? (size_t)r : 0;
    }
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    len = r < 0                          ? n
          : n + (size_t)r < sizeof(line) ? n + (size_t)r
                                         : sizeof(line) - 1;
    if (rag_log_sink != NULL) {
        rag_log_sink(rag_log_sink_ud, lvl, line, len);
        return;
    }
    /* one write per line keeps lines whole when processes share stderr */
    fprintf(stderr, "%s\n", line);
}
