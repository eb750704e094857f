#include "rag_event.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static const char *
str_at(yajl_val v, const char **path)
{
    yajl_val s = yajl_tree_get(v, path, yajl_t_string);

    return s ? YAJL_GET_STRING(s) : NULL;
}

/* Copies s into out when it fits (and is non-empty); 0 or -1. */
static int
copy_id(char *out, size_t outlen, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n >= outlen)
        return -1;
    memcpy(out, s, n + 1);
    return 0;
}

enum rag_event_rc
rag_event_parse(const char *json, size_t len, rag_event *ev)
{
    static const char *p_id[] = {"id", NULL};
    static const char *p_op[] = {"event", "op", NULL};
    static const char *p_new[] = {"event", "data", "new", NULL};
    static const char *p_table[] = {"table", "name", NULL};
    static const char *p_thread[] = {"thread_id", NULL};
    static const char *p_message[] = {"message_id", NULL};
    static const char *p_from_bot[] = {"from_bot", NULL};
    enum rag_event_rc rc = RAG_EVENT_INVALID;
    const char *id, *op, *table;
    yajl_val root, data_new, from_bot;
    char errbuf[128];

    memset(ev, 0, sizeof(*ev));
    ev->reason = "malformed JSON event";
    /* yajl_tree_parse reads up to the NUL: embedded NULs are refused */
    if (strlen(json) != len)
        return RAG_EVENT_INVALID;
    root = yajl_tree_parse(json, errbuf, sizeof(errbuf));
    if (root == NULL || !YAJL_IS_OBJECT(root))
        goto done;

    id = str_at(root, p_id);
    op = str_at(root, p_op);
    table = str_at(root, p_table);
    ev->reason = "not a Hasura event: need id, event.op, event.data.new "
                 "and table.name";
    if (id == NULL || op == NULL || table == NULL ||
        yajl_tree_get(root, p_new, yajl_t_any) == NULL)
        goto done;
    if (copy_id(ev->event_id, sizeof(ev->event_id), id) != 0) {
        ev->reason = "event id empty or too long";
        goto done;
    }

    data_new = yajl_tree_get(root, p_new, yajl_t_object);
    if ((strcmp(table, "messages") != 0 && strcmp(table, "message") != 0) ||
        (strcmp(op, "INSERT") != 0 && strcmp(op, "MANUAL") != 0) ||
        data_new == NULL) {
        /* acknowledged so Hasura stops retrying: nothing to answer */
        ev->reason = "not a new message";
        rc = RAG_EVENT_IGNORE;
        goto done;
    }

    if (copy_id(ev->thread_id, sizeof(ev->thread_id),
                str_at(data_new, p_thread)) != 0 ||
        copy_id(ev->message_id, sizeof(ev->message_id),
                str_at(data_new, p_message)) != 0) {
        ev->reason = "event.data.new needs thread_id and message_id strings";
        goto done;
    }

    from_bot = yajl_tree_get(data_new, p_from_bot, yajl_t_any);
    if (from_bot && YAJL_IS_TRUE(from_bot)) {
        ev->reason = "bot message";
        rc = RAG_EVENT_IGNORE;
        goto done;
    }
    ev->reason = NULL;
    rc = RAG_EVENT_ENQUEUE;
done:
    yajl_tree_free(root);
    return rc;
}
