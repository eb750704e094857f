/*
 * Unit tests for rag-admin export's transcript building
 * (worker/admin/admin_export.c): role mapping, JSON shape and escaping, no
 * export without a bot turn, and no partial line when the buffer is full.
 *
 * Worker objects are not in librag.a, so the source is included here.
 */
#include "unit.h"

#include "../../worker/admin/admin_export.c"
#include "../../worker/conf_tables.c"

#include <yajl/yajl_tree.h>

static void
test_roles(void)
{
    CHECK_STR(admin_transcript_role(0), "user");
    CHECK_STR(admin_transcript_role(1), "assistant");
}

static void
test_transcript(void)
{
    static const char *c[] = {"How do I \"reload\"?\n", "Run nginx -s reload.",
                              "Thanks!"};
    static const int bot[] = {0, 1, 0};
    static const char *rp[] = {"messages", NULL};
    char ebuf[128];
    rag_buf b;
    yajl_val root, msgs;

    rag_buf_init(&b, 0);
    CHECK_INT(admin_transcript_json(&b, "SYS", "t1",
                                    "https://discord.com/channels/g/t1", c, bot,
                                    3),
              0);
    CHECK(b.len > 0 && b.data[b.len - 1] == '\n');
    CHECK_STR(b.data,
              "{\"messages\":[{\"role\":\"system\",\"content\":\"SYS\"},"
              "{\"role\":\"user\",\"content\":\"How do I \\\"reload\\\"?\\n\"},"
              "{\"role\":\"assistant\",\"content\":\"Run nginx -s reload.\"},"
              "{\"role\":\"user\",\"content\":\"Thanks!\"}],"
              "\"thread_id\":\"t1\","
              "\"url\":\"https://discord.com/channels/g/t1\"}\n");
    root = yajl_tree_parse(b.data, ebuf, sizeof(ebuf));
    CHECK(root != NULL);
    msgs = yajl_tree_get(root, rp, yajl_t_array);
    CHECK(msgs != NULL && msgs->u.array.len == 4);
    yajl_tree_free(root);

    /* no bot turn: nothing written */
    rag_buf_reset(&b);
    CHECK_INT(
        admin_transcript_json(&b, "SYS", "t2", "u", c, (int[]){0, 0, 0}, 3),
        -1);
    CHECK_INT(b.len, 0);
    rag_buf_free(&b);

    /* too long for the buffer: -1 and the buffer as before */
    rag_buf_init(&b, 64);
    rag_buf_puts(&b, "keep\n");
    CHECK_INT(admin_transcript_json(&b, "SYS", "t3", "u", c, bot, 3), -1);
    CHECK_STR(b.data, "keep\n");
    rag_buf_free(&b);
}

int
main(void)
{
    RUN(test_roles);
    RUN(test_transcript);
    UNIT_DONE();
}
