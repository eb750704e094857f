/*
 * rag_log — one-line structured logs for the daemons and lib/.
 *
 * Lines look like: 2026-11-24T14:00:00.123Z level=info msg="job done" k=v
 * Callers pass the key=value tail themselves. Secrets never go through
 * here: config values are logged by name only (see rag_conf).
 *
 * Where lines go is the sink's business: by default stderr (the daemons,
 * under systemd's journal). A process with a log of its own installs a
 * sink once at start-up, before any thread logs: the nginx module sends
 * lib/'s lines to nginx's error log (ngx_rag_log.c), so code shared with
 * the daemons never writes to nginx's stderr. The level and the sink are
 * process-wide, like stderr.
 */
#ifndef RAG_LOG_H
#define RAG_LOG_H

#include <stddef.h>

enum rag_log_level { RAG_LOG_DEBUG, RAG_LOG_INFO, RAG_LOG_WARN, RAG_LOG_ERROR };

void rag_log_set_level(enum rag_log_level lvl);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int rag_log_parse_level(const char *s);
/* "debug", "info", "warn" or "error". */
const char *rag_log_level_name(enum rag_log_level lvl);

/* Receives each line at or above the level: msg is the caller's
 * key=value tail (no time, no level), NUL-terminated, len bytes; it is
 * only valid during the call. Called from any thread that logs. */
typedef void (*rag_log_sink_fn)(void *ud, enum rag_log_level lvl,
                                const char *msg, size_t len);

/* fn NULL: back to the stderr default. */
void rag_log_set_sink(rag_log_sink_fn fn, void *ud);

void rag_log(enum rag_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define rag_debug(...) rag_log(RAG_LOG_DEBUG, __VA_ARGS__)
#define rag_info(...) rag_log(RAG_LOG_INFO, __VA_ARGS__)
#define rag_warn(...) rag_log(RAG_LOG_WARN, __VA_ARGS__)
#define rag_error(...) rag_log(RAG_LOG_ERROR, __VA_ARGS__)

#endif
