/*
 * ngx_rag_module — directives and configuration for the ngx_rag
 * endpoints. Each content directive installs its location's handler, as
 * stub_status does; the handlers live in one file each.
 */

#include "ngx_rag_module.h"

#include "rag_collection.h"

static void *ngx_rag_create_main_conf(ngx_conf_t *cf);
static char *ngx_rag_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_rag_create_loc_conf(ngx_conf_t *cf);
static char *ngx_rag_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_rag_set_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_rag_set_discord_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_rag_init_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_rag_commands[] = {

    { ngx_string("rag_database"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_rag_main_conf_t, database),
      NULL },

    { ngx_string("rag_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_rag_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("rag_db_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_rag_main_conf_t, db_timeout),
      NULL },

    { ngx_string("rag_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rag_set_handler,
      0,
      0,
      (void *) ngx_rag_health_handler },

    { ngx_string("rag_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rag_set_handler,
      0,
      0,
      (void *) ngx_rag_metrics_handler },

    { ngx_string("rag_event_webhook"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rag_set_handler,
      0,
      0,
      (void *) ngx_rag_webhook_handler },

    { ngx_string("rag_event_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, event_secret),
      NULL },

    { ngx_string("rag_event_secret_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, event_secret_header),
      NULL },

    { ngx_string("rag_discord_interactions"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rag_set_handler,
      0,
      0,
      (void *) ngx_rag_interactions_handler },

    { ngx_string("rag_discord_public_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_rag_set_discord_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("rag_upload"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_rag_set_handler,
      0,
      0,
      (void *) ngx_rag_upload_handler },

    { ngx_string("rag_upload_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, upload_token),
      NULL },

    { ngx_string("rag_upload_create_collections"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, upload_create),
      NULL },

    { ngx_string("rag_dashboard_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, dashboard_token),
      NULL },

    { ngx_string("rag_dashboard_session"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, dashboard_session),
      NULL },

    { ngx_string("rag_index_dir"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, index_dir),
      NULL },

    { ngx_string("rag_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_rag_loc_conf_t, max_body),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_rag_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_rag_create_main_conf,              /* create main configuration */
    ngx_rag_init_main_conf,                /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_rag_create_loc_conf,               /* create location configuration */
    ngx_rag_merge_loc_conf                 /* merge location configuration */
};


ngx_module_t  ngx_rag_module = {
    NGX_MODULE_V1,
    &ngx_rag_module_ctx,                   /* module context */
    ngx_rag_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_rag_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_rag_init_process(ngx_cycle_t *cycle)
{
    return ngx_rag_log_init_process(cycle);
}


static void *
ngx_rag_create_main_conf(ngx_conf_t *cf)
{
    ngx_rag_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool, sizeof(ngx_rag_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    rmcf->db_timeout = NGX_CONF_UNSET_MSEC;

    return rmcf;
}


static char *
ngx_rag_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_rag_main_conf_t *rmcf = conf;

    if (rmcf->thread_pool_name.len == 0) {
        ngx_str_set(&rmcf->thread_pool_name, "default");
    }

    ngx_conf_init_msec_value(rmcf->db_timeout, 5000);

    /* "default" needs no thread_pool directive; others must be declared */
    rmcf->thread_pool = ngx_thread_pool_add(cf, &rmcf->thread_pool_name);
    if (rmcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_rag_metrics_init_conf(cf, rmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_rag_create_loc_conf(ngx_conf_t *cf)
{
    ngx_rag_loc_conf_t  *rlcf;

    rlcf = ngx_pcalloc(cf->pool, sizeof(ngx_rag_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *     rlcf->event_secret = { 0, NULL };
     *     rlcf->discord_key = NULL;
     */

    rlcf->max_body = NGX_CONF_UNSET_SIZE;
    rlcf->dashboard_session = NGX_CONF_UNSET;
    rlcf->upload_create = NGX_CONF_UNSET;

    return rlcf;
}


static char *
ngx_rag_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_rag_loc_conf_t *prev = parent;
    ngx_rag_loc_conf_t *conf = child;

    ngx_conf_merge_str_value(conf->event_secret, prev->event_secret, "");
    ngx_conf_merge_str_value(conf->event_secret_header,
                             prev->event_secret_header, "X-Rag-Secret");
    ngx_conf_merge_str_value(conf->upload_token, prev->upload_token, "");
    ngx_conf_merge_str_value(conf->dashboard_token, prev->dashboard_token,
                             "");
    ngx_conf_merge_str_value(conf->index_dir, prev->index_dir,
                             RAG_INDEX_DIR_DEFAULT);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 1024 * 1024);
    ngx_conf_merge_value(conf->upload_create, prev->upload_create, 0);
    ngx_conf_merge_sec_value(conf->dashboard_session,
                             prev->dashboard_session, 12 * 60 * 60);

    if (conf->dashboard_session < 60) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rag_dashboard_session must be at least 1m");
        return NGX_CONF_ERROR;
    }

    if (conf->discord_key == NULL) {
        conf->discord_key = prev->discord_key;
    }

    return NGX_CONF_OK;
}


static char *
ngx_rag_set_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is duplicate: the location already has a content handler";
    }

    clcf->handler = (ngx_http_handler_pt) cmd->post;

    return NGX_CONF_OK;
}


static char *
ngx_rag_set_discord_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rag_loc_conf_t *rlcf = conf;

    ngx_str_t  *value;
    ngx_int_t   hi, lo;
    ngx_uint_t  i;

    if (rlcf->discord_key != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len != 64) {
        return "must be the application's 64 hex digit public key";
    }

    rlcf->discord_key = ngx_palloc(cf->pool, 32);
    if (rlcf->discord_key == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < 32; i++) {
        hi = ngx_hextoi(&value[1].data[2 * i], 1);
        lo = ngx_hextoi(&value[1].data[2 * i + 1], 1);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            return "has a non-hex digit";
        }

        rlcf->discord_key[i] = (u_char) (hi * 16 + lo);
    }

    return NGX_CONF_OK;
}
