/* The PAM entry points: gather and validate what PAM knows about the login, wire the decision
 * to the login socket and the conversation, and turn its outcome into a PAM return code. */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "args.h"
#include "client_watch.h"
#include "conversation.h"
#include "daemon_api.h"
#include "decision.h"
#include "login_log.h"
#include "monotonic.h"
#include "pam_items.h"
#include "text.h"

enum login_stack { STACK_AUTH, STACK_ACCOUNT };

/* What the decision's callbacks need: the PAM handle for the conversation, the daemon target. */
struct module_session {
    pam_handle_t *pamh;
    int flags;
    bool debug;
    struct api_target target;
};

static const char *const status_names[] = {"ok",        "not_running", "unreachable", "refused",
                                           "malformed", "impostor",    "abandoned"};

static void debug_call(const struct module_session *s, const char *what, enum api_status st,
                       const char *err)
{
    char shown[300];

    if (s->debug)
        pam_syslog(s->pamh, LOG_DEBUG, "debug: %s: %s%s%s", what, status_names[st],
                   st == API_OK ? "" : ": ",
                   st == API_OK ? "" : text_escape_log(err, shown, sizeof(shown)));
}

static enum api_status io_check(void *ctx, bool final, struct check_reply *out, char *err,
                                size_t err_len)
{
    struct module_session *s = ctx;
    enum api_status st = api_check(&s->target, final, out, err, err_len);

    debug_call(s, final ? "final access check" : "access check", st, err);
    return st;
}

static enum api_status io_file(void *ctx, const char *reason, struct lockbox_request *out,
                               char *err, size_t err_len)
{
    struct module_session *s = ctx;
    enum api_status st = api_file(&s->target, reason, out, err, err_len);

    debug_call(s, "file request", st, err);
    return st;
}

static enum api_status io_wait(void *ctx, const char *id, int timeout_s,
                               struct lockbox_request *out, char *err, size_t err_len)
{
    struct module_session *s = ctx;
    enum api_status st = api_wait(&s->target, id, timeout_s, out, err, err_len);

    if (st == API_ABANDONED)
        s->target.channel->n_watch = 0; /* the final check still gets its answer */

    debug_call(s, "wait", st, err);
    return st;
}

static int io_describe(void *ctx, char *tenant, size_t tenant_len, char *host, size_t host_len)
{
    struct module_session *s = ctx;

    return api_describe(&s->target, tenant, tenant_len, host, host_len) == API_OK ? 0 : -1;
}

static int io_ask(void *ctx, const char *question, char *answer, size_t answer_len, bool *too_long)
{
    struct module_session *s = ctx;

    /* A person may take as long as they like to answer: hold no connection to lockboxd
     * meanwhile (the next call opens a new one). */
    login_channel_close(s->target.channel);
    return conversation_ask(s->pamh, question, answer, answer_len, too_long);
}

static void io_tell(void *ctx, bool is_error, const char *text)
{
    struct module_session *s = ctx;

    conversation_tell(s->pamh, s->flags, is_error, text);
}

static int64_t io_monotonic_ms(void *ctx)
{
    (void)ctx;
    return monotonic_ms();
}

/* The decision and failmode: the outcome as a PAM code. */
static int decide(struct module_session *s, const struct lockbox_args *args,
                  const struct login_facts *facts, const struct login_who *who, int deny)
{
    struct decision_io io = {s,           io_check, io_file, io_wait,
                             io_describe, io_ask,   io_tell, io_monotonic_ms};
    struct login_result result;

    decide_login(facts, &io, &result);
    login_channel_close(s->target.channel); /* no descriptor outlives the call */
    if (result.outcome == OUTCOME_UNREACHABLE && result.failmode_applies &&
        args->failmode == FAILMODE_SAFE) {
        log_login(s->pamh, who, &result, true);
        return PAM_SUCCESS;
    }
    if (result.outcome == OUTCOME_UNREACHABLE && result.failmode_applies)
        decision_tell_outcome(&io, &result);
    log_login(s->pamh, who, &result, false);
    return result.outcome == OUTCOME_ALLOWED ? PAM_SUCCESS : deny;
}

/* publickey_first and no key accepted before: the line skips the password stack on success,
 * so it must never succeed on its own (password logins, or keyboard-interactive alone). Checked
 * before the user is looked up and said only to syslog, so that it tells a caller without a
 * key nothing (not even whether the account exists). */
static int refuse_without_publickey(pam_handle_t *pamh)
{
    const void *item = NULL;
    char shown[300];

    if (pam_get_item(pamh, PAM_USER, &item) != PAM_SUCCESS || item == NULL)
        item = "";
    pam_syslog(pamh, LOG_NOTICE, "event=login.denied user=%s why=no_publickey",
               text_escape_log(item, shown, sizeof(shown)));
    return PAM_AUTH_ERR;
}

static int run_login(pam_handle_t *pamh, int flags, int argc, const char **argv,
                     enum login_stack stack)
{
    int deny = stack == STACK_AUTH ? PAM_AUTH_ERR : PAM_PERM_DENIED;
    struct lockbox_args args;
    char err[400], service[LOCKBOX_NAME_MAX + 1], rhost[LOCKBOX_RHOST_MAX + 1];
    char requester[LOCKBOX_NAME_MAX + 1];
    const char *user = NULL;

    if (parse_args(argc, argv, &args, err, sizeof(err)) != 0) {
        char shown[sizeof(err) * 2];
        pam_syslog(pamh, LOG_ERR, "event=login.denied why=bad_option detail=%s",
                   text_escape_log(err, shown, sizeof(shown)));
        conversation_tell(pamh, flags, true,
                          "Lockbox: pam_lockbox is misconfigured (see syslog); access denied.");
        return deny;
    }
    if (stack == STACK_AUTH && args.publickey_first && !items_ssh_publickey_accepted(pamh))
        return refuse_without_publickey(pamh);
    int rc = items_user(pamh, &user);
    if (rc != PAM_SUCCESS)
        return rc;
    items_service(pamh, service, sizeof(service));
    items_rhost(pamh, rhost, sizeof(rhost));
    items_ruser(pamh, requester, sizeof(requester));
    struct login_facts facts = {args.tenant,
                                service,
                                rhost,
                                args.wait_seconds,
                                stack == STACK_AUTH && items_can_prompt(pamh),
                                strcmp(service, "sshd") == 0};
    struct login_who who = {user, args.tenant, service, rhost, requester};
    struct login_channel channel = LOGIN_CHANNEL_INIT(args.socket_path);
    int client_fds[CLIENT_WATCH_MAX];
    channel.n_watch = client_watch_find(rhost, client_fds);
    channel.watch_fds = client_fds;
    struct module_session session = {pamh,
                                     flags,
                                     args.debug,
                                     {&channel, user, args.tenant, service, rhost, requester}};
    if (args.debug)
        pam_syslog(pamh, LOG_DEBUG,
                   "debug: stack=%s user=%s service=%s rhost=%s socket=%s "
                   "wait=%d failmode=%s prompt=%s",
                   stack == STACK_AUTH ? "auth" : "account", user, service, rhost[0] ? rhost : "-",
                   text_escape_log(args.socket_path, err, sizeof(err)), args.wait_seconds,
                   args.failmode == FAILMODE_SAFE ? "safe" : "secure",
                   facts.may_prompt ? "yes" : "no");
    return decide(&session, &args, &facts, &who, deny);
}

EXPORTED int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return run_login(pamh, flags, argc, argv, STACK_AUTH);
}

/* No credentials of its own. PAM_IGNORE, not PAM_SUCCESS: sshd's optional line is
 * "[success=done ignore=ignore default=die]", and a success there would end the setcred chain
 * too, skipping every later module's credentials (pam_group's groups, Kerberos tickets). */
EXPORTED int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_IGNORE;
}

EXPORTED int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    return run_login(pamh, flags, argc, argv, STACK_ACCOUNT);
}
