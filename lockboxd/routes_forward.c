/* role = agent: root's POST /v1/requests on the host is filed at central (agent.h), as the
 * module's are; the call is suspended until central answers, then answered as a filing here
 * would have been. Anyone else is told to file at central (service_file). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "request_json.h"
#include "routes_internal.h"

struct forwarded_filing {
    struct agent_filing filing; /* first: on_filed() finds the rest from it */
    struct call *call;
    struct service *svc; /* its agent is gone (NULL) once lockboxd stops */
    bool answered;
    struct service_result result;
    struct lockbox_request request;
};

static void on_filed(struct agent_filing *filing, const struct service_result *r,
                     const struct lockbox_request *req)
{
    struct forwarded_filing *fwd = (struct forwarded_filing *)filing;

    fwd->answered = true;
    fwd->result = *r;
    if (r->status < 400)
        fwd->request = *req;
    http_resume_external(fwd->call);
}

/* The call ended before its answer could be given: central's answer, when it comes, is only
 * mirrored. */
static void on_gone(struct call *call)
{
    struct forwarded_filing *fwd = call->external;

    call->external = NULL;
    if (!fwd->answered && fwd->svc->agent != NULL)
        agent_file_cancel(fwd->svc->agent, &fwd->filing);
    free(fwd);
}

bool route_forward_file(struct route_ctx *ctx, const struct file_input *in, enum MHD_Result *rc)
{
    struct call *call = ctx->call;
    struct agent *agent = ctx->svc->agent;

    if (agent == NULL || call->who.kind != IDENTITY_LOCAL || call->who.uid != 0)
        return false;
    const char *own_host = ctx->svc->config->host;
    if (in->host != NULL && strcmp(in->host, own_host) != 0) {
        /* Central files for the host its certificate names: never quietly for another. */
        *rc = http_reply_error(call, 400, "bad_request",
                               "this lockboxd gates host %s; file for %s on that host or at "
                               "central (lockboxctl --server)",
                               own_host, in->host);
        return true;
    }
    if (in->user == NULL) {
        *rc = http_reply_error(call, 400, "bad_request", "'user' is required when root files");
        return true;
    }
    if (!identity_user_exists(in->user)) {
        *rc = http_reply_error(call, 400, "bad_request", "no such user '%s' on this host",
                               in->user);
        return true;
    }
    struct forwarded_filing *fwd = calloc(1, sizeof(*fwd));
    if (fwd == NULL) {
        *rc = http_reply_error(call, 500, "internal", "out of memory");
        return true;
    }
    fwd->call = call;
    fwd->svc = ctx->svc;
    fwd->filing.on_done = on_filed;
    if (agent_file(agent, &fwd->filing, in) != 0) {
        free(fwd);
        *rc = http_reply_error(call, 500, "internal", "cannot forward the request to central");
        return true;
    }
    http_suspend_external(call, fwd, on_gone);
    *rc = MHD_YES;
    return true;
}

enum MHD_Result route_forward_finish(struct call *call)
{
    struct forwarded_filing *fwd = call->external;
    enum MHD_Result rc;

    if (!fwd->answered) /* the caller left: nobody to answer */
        rc = http_reply_error(call, 503, "central_unavailable", "the caller went away");
    else if (fwd->result.status >= 400)
        rc = http_reply_error(call, (unsigned)fwd->result.status, fwd->result.error, "%s",
                              fwd->result.message);
    else
        rc = http_reply_json(call, (unsigned)fwd->result.status, request_to_json(&fwd->request));
    on_gone(call);
    return rc;
}
