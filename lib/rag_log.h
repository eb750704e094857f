/*
 * rag_log — one-line structured logs for the daemons (stderr).
 *
 * Lines look like: 2026-11-24T14:00:00.123Z level=info msg="job done" k=v
 * Callers pass the key=value tail themselves. Secrets never go through
 * here: config values are logged by name only (see rag_conf).
 */
#ifndef RAG_LOG_H
#define RAG_LOG_H

enum rag_log_level { RAG_LOG_DEBUG, RAG_LOG_INFO, RAG_LOG_WARN, RAG_LOG_ERROR };

void rag_log_set_level(enum rag_log_level lvl);
/* Parses "debug", "info", "warn", "error"; returns -1 if unknown. */
int rag_log_parse_level(const char *s);
void rag_log(enum rag_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define rag_debug(...) rag_log(RAG_LOG_DEBUG, __VA_ARGS__)
#define rag_info(...)  rag_log(RAG_LOG_INFO, __VA_ARGS__)
#define rag_warn(...)  rag_log(RAG_LOG_WARN, __VA_ARGS__)
#define rag_error(...) rag_log(RAG_LOG_ERROR, __VA_ARGS__)

#endif
