#include "rag_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Process-wide by nature (stderr is too); set once at start-up. */
static enum rag_log_level rag_log_min = RAG_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
rag_log_set_level(enum rag_log_level lvl)
{
    rag_log_min = lvl;
}

int
rag_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void
rag_log(enum rag_log_level lvl, const char *fmt, ...)
{
    char line[4096], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (lvl < rag_log_min)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof(line), "%s.%03dZ level=%s ", ts,
                 (int) (tv.tv_usec / 1000), level_names[lvl]);
    va_start(ap, fmt);
    if (n > 0 && (size_t) n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t) n, fmt, ap);
    va_end(ap);
    /* one write per line keeps lines whole when processes share stderr */
    fprintf(stderr, "%s\n", line);
}
