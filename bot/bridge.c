/*
 * bridge — gateway threads -> main thread hand-over (see bridge.h).
 */
#include "bridge.h"
#include "events.h"

#include "rag_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rag_bridge_ev {
    rag_bridge_ev *next;
    size_t len;
    char data[];
};

int
rag_bridge_open(rag_bridge *br)
{
    br->wake[0] = br->wake[1] = -1;
    if (pipe2(br->wake, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    if (pthread_mutex_init(&br->mu, NULL) != 0)
        return -1;
    br->open = 1;
    return 0;
}

static rag_bridge_ev *
take_all(rag_bridge *br)
{
    rag_bridge_ev *h;

    pthread_mutex_lock(&br->mu);
    h = br->head;
    br->head = br->tail = NULL;
    br->n = 0;
    pthread_mutex_unlock(&br->mu);
    return h;
}

void
rag_bridge_close(rag_bridge *br)
{
    rag_bridge_ev *e, *next;

    if (br->open) {
        for (e = take_all(br); e; e = next) {
            next = e->next;
            free(e);
        }
        pthread_mutex_destroy(&br->mu);
        br->open = 0;
    }
    if (br->wake[0] >= 0) {
        close(br->wake[0]);
        close(br->wake[1]);
        br->wake[0] = br->wake[1] = -1;
    }
}

static void
wake(rag_bridge *br, char c)
{
    if (write(br->wake[1], &c, 1) < 0 && errno != EAGAIN)
        rag_warn("msg=\"wake pipe write failed\"");
}

void
rag_bridge_push(void *ud, const char *json, size_t len)
{
    rag_bridge *br = ud;
    rag_bridge_ev *e = malloc(sizeof(*e) + len + 1);

    if (e == NULL)
        return;
    e->next = NULL;
    e->len = len;
    memcpy(e->data, json, len);
    e->data[len] = '\0';
    pthread_mutex_lock(&br->mu);
    if (br->n >= RAG_BRIDGE_MAX) {
        pthread_mutex_unlock(&br->mu);
        free(e);
        rag_error("msg=\"event queue full, dropping dispatch\"");
        return;
    }
    if (br->tail)
        br->tail->next = e;
    else
        br->head = e;
    br->tail = e;
    br->n++;
    pthread_mutex_unlock(&br->mu);
    wake(br, 1);
}

void
rag_bridge_gw_done(rag_bridge *br)
{
    br->gw_done = 1;
    wake(br, 2);
}

void
rag_bridge_clear_wake(rag_bridge *br)
{
    char drain[256];

    while (read(br->wake[0], drain, sizeof(drain)) > 0)
        ;
}

int
rag_bridge_drain(rag_bridge *br, rag_bot *b)
{
    rag_bridge_ev *e, *next;
    int n = 0;

    for (e = take_all(br); e; e = next) {
        next = e->next;
        rag_events_handle(b, e->data, e->len);
        free(e);
        n++;
    }
    return n;
}
