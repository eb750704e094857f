#include "ngx_rag_module.h"

ngx_int_t
ngx_rag_upload_handler(ngx_http_request_t *r)
{
    return NGX_HTTP_NOT_IMPLEMENTED;
}
