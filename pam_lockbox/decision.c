/* decide_login(): the steps of a login that needs approval, each a small function. Everything
 * the daemon sent is escaped before it is shown (text_escape_terminal). */
#include "decision.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"
#include "timefmt.h"

#define MESSAGE_MAX 512 /* PAM_MAX_MSG_SIZE */
#define FILE_AHEAD_HINT "lockboxctl request --reason TEXT"

const char *login_outcome_name(enum login_outcome outcome)
{
    switch (outcome) {
    case OUTCOME_ALLOWED: return "allowed";
    case OUTCOME_DENIED: return "denied";
    case OUTCOME_PENDING: return "pending";
    case OUTCOME_EXPIRED: return "expired";
    case OUTCOME_UNREACHABLE: return "unreachable";
    case OUTCOME_IMPOSTOR: return "impostor";
    case OUTCOME_REFUSED: return "refused";
    case OUTCOME_CONVERSATION: return "conversation";
    case OUTCOME_ABANDONED: return "abandoned";
    }
    return "refused";
}

__attribute__((format(printf, 3, 4))) static void say(const struct decision_io *io, bool is_error,
                                                      const char *fmt, ...)
{
    char text[MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    io->tell(io->ctx, is_error, text);
}

static void fail(struct login_result *result, enum api_status status, const char *detail)
{
    switch (status) {
    case API_NOT_RUNNING:
    case API_UNREACHABLE: result->outcome = OUTCOME_UNREACHABLE; break;
    case API_IMPOSTOR: result->outcome = OUTCOME_IMPOSTOR; break;
    case API_ABANDONED: result->outcome = OUTCOME_ABANDONED; break;
    default: result->outcome = OUTCOME_REFUSED;
    }
    snprintf(result->detail, sizeof(result->detail), "%s", detail);
}

static void default_reason(const struct login_facts *facts, char *reason, size_t reason_len)
{
    if (facts->rhost[0] != '\0')
        snprintf(reason, reason_len, "login via %s from %s", facts->service, facts->rhost);
    else
        snprintf(reason, reason_len, "login via %s", facts->service);
}

/* The justification: asked for where the conversation can prompt, else the default. Returns -1
 * (and sets the outcome) when there is none to give. */
static int justification(const struct login_facts *facts, const struct decision_io *io,
                         struct login_result *result, char *reason, size_t reason_len)
{
    char tenant[LOCKBOX_NAME_MAX + 1] = "the tenant's", host[LOCKBOX_HOST_MAX + 1] = "this host";
    char question[MESSAGE_MAX];
    bool too_long;

    if (!facts->may_prompt) {
        default_reason(facts, reason, reason_len);
        return 0;
    }
    if (io->describe(io->ctx, tenant, sizeof(tenant), host, sizeof(host)) != 0) {
        snprintf(tenant, sizeof(tenant), "the tenant's");
        snprintf(host, sizeof(host), "this host");
    }
    snprintf(question, sizeof(question),
             "Lockbox: access to %s needs approval by a %s admin. Justification: ", host,
             facts->tenant[0] != '\0' ? facts->tenant : tenant);
    if (io->ask(io->ctx, question, reason, reason_len, &too_long) != 0) {
        result->outcome = OUTCOME_CONVERSATION;
        snprintf(result->detail, sizeof(result->detail), "the conversation gave no answer");
        return -1;
    }
    if (reason[0] == '\0') {
        default_reason(facts, reason, reason_len);
        return 0;
    }
    if (too_long || !text_is_clean(reason, LOCKBOX_TEXT_MAX)) {
        result->outcome = OUTCOME_CONVERSATION;
        snprintf(result->detail, sizeof(result->detail),
                 "the justification was not 1-%d bytes "
                 "of printable UTF-8",
                 LOCKBOX_TEXT_MAX);
        say(io, true, "Lockbox: a justification is 1-%d bytes of printable text; access denied.",
            LOCKBOX_TEXT_MAX);
        return -1;
    }
    return 0;
}

/* Names the request and the wait before blocking. Where the conversation can prompt, through
 * a prompt: sshd sends a module's text to the client only with the next prompt (or once the
 * stack returns), so a prompt is the one way the engineer learns the id while the login
 * waits. Returns -1 (outcome set) when the person gave up at that prompt. */
static int ask_to_wait(const struct decision_io *io, struct login_result *result, int wait_seconds)
{
    const struct lockbox_request *req = &result->request;
    char question[MESSAGE_MAX], ignored[8];
    bool too_long;

    snprintf(question, sizeof(question),
             "Lockbox: request %s asks a %s admin to approve access "
             "to %s. Press Enter to wait up to %d seconds for the decision (Ctrl-C gives up; "
             "the request stays filed): ",
             req->id, req->tenant, req->host, wait_seconds);
    if (io->ask(io->ctx, question, ignored, sizeof(ignored), &too_long) != 0) {
        result->outcome = OUTCOME_CONVERSATION;
        snprintf(result->detail, sizeof(result->detail), "no answer at the wait prompt");
        return -1;
    }
    return 0;
}

static int announce(const struct login_facts *facts, const struct decision_io *io,
                    struct login_result *result)
{
    const struct lockbox_request *req = &result->request;

    if (facts->wait_seconds > 0 && facts->may_prompt)
        return ask_to_wait(io, result, facts->wait_seconds);
    if (facts->text_shown_late)
        return 0; /* it would arrive after the decision anyway */
    if (facts->wait_seconds == 0) {
        say(io, false, "Lockbox: request %s asks a %s admin to approve access to %s.", req->id,
            req->tenant, req->host);
        return 0;
    }
    say(io, false,
        "Lockbox: request %s asks a %s admin to approve access to %s; waiting up to "
        "%d seconds.",
        req->id, req->tenant, req->host, facts->wait_seconds);
    return 0;
}

/* Finds the pending request the check named, or files one. Returns 0 with result->request. */
static int find_or_file(const struct login_facts *facts, const struct decision_io *io,
                        const struct check_reply *check, struct login_result *result)
{
    if (check->has_request && check->request.state == REQUEST_PENDING) {
        result->request = check->request;
    } else {
        char reason[LOCKBOX_TEXT_MAX + 1], err[DECISION_DETAIL_MAX];
        if (justification(facts, io, result, reason, sizeof(reason)) != 0)
            return -1;
        enum api_status status = io->file(io->ctx, reason, &result->request, err, sizeof(err));
        if (status != API_OK) {
            fail(result, status, err);
            return -1;
        }
    }
    result->has_request = true;
    return announce(facts, io, result);
}

/* Long-polls until the request leaves pending or the wait ends. No sleeping: each call blocks in
 * the daemon, and the deadline is monotonic so a clock change cannot stretch it. */
static void wait_for_decision(const struct login_facts *facts, const struct decision_io *io,
                              struct login_result *result)
{
    int64_t deadline = io->monotonic_ms(io->ctx) + facts->wait_seconds * 1000LL;
    struct lockbox_request latest;
    char err[DECISION_DETAIL_MAX];

    bool retried = false;

    /* A daemon that keeps answering early cannot make this spin: at most one call per second
     * of the wait, plus one. */
    for (int calls = 0; calls <= facts->wait_seconds; calls++) {
        int64_t left_ms = deadline - io->monotonic_ms(io->ctx);
        if (left_ms <= 0 || result->request.state != REQUEST_PENDING)
            return;
        int timeout_s = (int)((left_ms + 999) / 1000);
        enum api_status status = io->wait(io->ctx, result->request.id, timeout_s, &latest, err,
                                          sizeof(err));
        if (status == API_UNREACHABLE && !retried) {
            /* The connection broke (lockboxd restarted): once, wait on a new one. With socket
             * activation it queues for the next lockboxd. */
            retried = true;
            continue;
        }
        if (status != API_OK) {
            snprintf(result->detail, sizeof(result->detail), "%s", err);
            result->abandoned = status == API_ABANDONED;
            return; /* the final check decides; it fails too if the daemon is gone */
        }
        retried = false;
        result->request = latest;
    }
}

/* After a refused final check: why, from what is known of the request. */
static enum login_outcome refusal_outcome(const struct lockbox_request *request)
{
    switch (request->state) {
    case REQUEST_PENDING: return OUTCOME_PENDING;
    case REQUEST_DENIED: return OUTCOME_DENIED;
    case REQUEST_EXPIRED:
    case REQUEST_REVOKED:
    case REQUEST_APPROVED: /* approved, yet the check refused: the access ended meanwhile */
        return OUTCOME_EXPIRED;
    }
    return OUTCOME_REFUSED;
}

static void final_check(const struct decision_io *io, struct login_result *result)
{
    struct check_reply check;
    char err[DECISION_DETAIL_MAX];

    enum api_status status = io->check(io->ctx, true, &check, err, sizeof(err));
    if (status != API_OK) {
        fail(result, status, err);
        return;
    }
    if (check.allowed) {
        result->outcome = OUTCOME_ALLOWED;
        result->request = check.request;
        return;
    }
    if (check.has_request)
        result->request = check.request;
    result->outcome = refusal_outcome(&result->request);
}

void decision_tell_outcome(const struct decision_io *io, const struct login_result *result)
{
    const struct lockbox_request *req = &result->request;
    /* Sized so that every message below fits PAM_MAX_MSG_SIZE whole. */
    char by[100], comment[300], detail[300], until[TIMEFMT_LEN];

    text_escape_terminal(req->decided_by[0] ? req->decided_by : "a tenant admin", by, sizeof(by));
    text_escape_terminal(req->comment[0] ? req->comment : "no comment", comment, sizeof(comment));
    text_escape_terminal(result->detail, detail, sizeof(detail));
    switch (result->outcome) {
    case OUTCOME_ALLOWED:
        timefmt_rfc3339(req->expires_at, until);
        say(io, false, "Lockbox: request %s approved by %s (%s); access until %s.", req->id, by,
            comment, until);
        break;
    case OUTCOME_DENIED:
        say(io, true, "Lockbox: request %s was denied by %s: %s", req->id, by, comment);
        break;
    case OUTCOME_PENDING:
        say(io, true,
            "Lockbox: request %s is still pending; log in again once it is approved, "
            "or file ahead with: " FILE_AHEAD_HINT,
            req->id);
        break;
    case OUTCOME_EXPIRED:
        say(io, true,
            "Lockbox: request %s expired or its access ended; log in again to file a "
            "new one, or file ahead with: " FILE_AHEAD_HINT,
            req->id);
        break;
    case OUTCOME_UNREACHABLE:
        say(io, true,
            "Lockbox: cannot reach lockboxd to approve this login; access denied. "
            "Ask an administrator to check the lockboxd service.");
        break;
    case OUTCOME_REFUSED: say(io, true, "Lockbox: lockboxd refused this login: %s", detail); break;
    case OUTCOME_IMPOSTOR:
        say(io, true,
            "Lockbox: the login socket is not lockboxd's; access denied. Tell an "
            "administrator (see syslog).");
        break;
    case OUTCOME_CONVERSATION:
    case OUTCOME_ABANDONED: break; /* nobody to tell, or already told */
    }
}

void decide_login(const struct login_facts *facts, const struct decision_io *io,
                  struct login_result *result)
{
    struct check_reply check;
    char err[DECISION_DETAIL_MAX];

    memset(result, 0, sizeof(*result));
    enum api_status status = io->check(io->ctx, false, &check, err, sizeof(err));
    if (status != API_OK) {
        fail(result, status, err);
        result->failmode_applies = status == API_NOT_RUNNING;
        if (!result->failmode_applies)
            decision_tell_outcome(io, result);
        return; /* the caller applies failmode, then tells */
    }
    if (check.allowed) {
        result->outcome = OUTCOME_ALLOWED;
        result->has_request = true;
        result->request = check.request;
        return; /* quietly: an approval filed ahead is the normal case */
    }
    if (find_or_file(facts, io, &check, result) == 0) {
        wait_for_decision(facts, io, result);
        final_check(io, result); /* also when abandoned: lockboxd records the denial */
        if (result->abandoned && result->outcome != OUTCOME_ALLOWED)
            result->outcome = OUTCOME_ABANDONED;
    }
    if (facts->text_shown_late && result->outcome == OUTCOME_ALLOWED)
        return; /* the session's terminal would show it twice; the login itself says it */
    decision_tell_outcome(io, result);
}
