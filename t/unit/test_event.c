#include "rag_event.h"
#include "unit.h"

#include <string.h>

#define ENV(table, op, new_)                                                   \
    "{\"id\":\"ev1\",\"created_at\":\"2026-01-01T00:00:00Z\","                 \
    "\"delivery_info\":{\"max_retries\":3,\"current_retry\":0},"               \
    "\"trigger\":{\"name\":\"t\"},\"table\":{\"schema\":\"public\","           \
    "\"name\":\"" table "\"},\"event\":{\"op\":\"" op "\",\"data\":"           \
    "{\"old\":null,\"new\":" new_ "}}}"

static void
test_table(void)
{
    static const struct {
        const char *json;
        enum rag_event_rc want;
        const char *thread, *message;
    } cases[] = {
        {ENV("messages", "INSERT",
             "{\"thread_id\":\"t1\",\"message_id\":\"m1\"}"),
         RAG_EVENT_ENQUEUE, "t1", "m1"},
        {ENV("message", "MANUAL",
             "{\"thread_id\":\"t2\",\"message_id\":\"m2\","
             "\"from_bot\":false}"),
         RAG_EVENT_ENQUEUE, "t2", "m2"},
        {ENV("messages", "INSERT",
             "{\"thread_id\":\"t1\",\"message_id\":\"m1\","
             "\"from_bot\":true}"),
         RAG_EVENT_IGNORE, "", ""},
        {ENV("messages", "UPDATE",
             "{\"thread_id\":\"t1\",\"message_id\":\"m1\"}"),
         RAG_EVENT_IGNORE, "", ""},
        {ENV("messages", "DELETE", "null"), RAG_EVENT_IGNORE, "", ""},
        {ENV("threads", "INSERT", "{\"thread_id\":\"t1\"}"), RAG_EVENT_IGNORE,
         "", ""},
        {ENV("messages", "INSERT", "{\"thread_id\":\"t1\"}"), RAG_EVENT_INVALID,
         "", ""},
        {ENV("messages", "INSERT", "{\"thread_id\":5,\"message_id\":\"m\"}"),
         RAG_EVENT_INVALID, "", ""},
        {ENV("messages", "INSERT", "{\"thread_id\":\"\",\"message_id\":\"m\"}"),
         RAG_EVENT_INVALID, "", ""},
        {ENV("messages", "INSERT",
             "{\"thread_id\":\"0123456789012345678901234567890123456789"
             "012345678901234567890123456789\",\"message_id\":\"m\"}"),
         RAG_EVENT_INVALID, "", ""},
        {"{\"id\":\"x\",\"event\":{\"op\":\"INSERT\"}}", RAG_EVENT_INVALID, "",
         ""},
        {"[1,2]", RAG_EVENT_INVALID, "", ""},
        {"{\"id\": ", RAG_EVENT_INVALID, "", ""},
        {"", RAG_EVENT_INVALID, "", ""},
    };
    rag_event ev;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum rag_event_rc rc =
            rag_event_parse(cases[i].json, strlen(cases[i].json), &ev);
        CHECK_INT(rc, cases[i].want);
        if (rc == RAG_EVENT_ENQUEUE) {
            CHECK_STR(ev.thread_id, cases[i].thread);
            CHECK_STR(ev.message_id, cases[i].message);
            CHECK_STR(ev.event_id, "ev1");
        } else {
            CHECK(ev.reason != NULL);
        }
    }
}

static void
test_embedded_nul(void)
{
    const char json[] = "{\"id\":\"a\"}\0{\"x\":1}";
    rag_event ev;

    /* a NUL inside the body must not let a prefix pass for the whole */
    CHECK_INT(rag_event_parse(json, sizeof(json) - 1, &ev), RAG_EVENT_INVALID);
}

int
main(void)
{
    RUN(test_table);
    RUN(test_embedded_nul);
    UNIT_DONE();
}
