/* The login decision (docs/DESIGN.md, "The flow"): check, find or file a request, wait for a
 * decision, check again. It talks to the daemon, the person and the clock only through
 * struct decision_io, so the flow reads top to bottom without PAM or sockets in the way. */
#ifndef PAM_LOCKBOX_DECISION_H
#define PAM_LOCKBOX_DECISION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon_api.h"

#define DECISION_DETAIL_MAX 256

enum login_outcome {
    OUTCOME_ALLOWED,
    OUTCOME_DENIED,       /* an admin denied the request */
    OUTCOME_PENDING,      /* nobody decided before the wait ended */
    OUTCOME_EXPIRED,      /* the request lapsed, or the approval ended meanwhile */
    OUTCOME_UNREACHABLE,  /* no answer from lockboxd (not running, busy, slow) */
    OUTCOME_IMPOSTOR,     /* the login socket is not lockboxd's (not root's, or answered by
                           * another uid): an attack, denied whatever the failmode */
    OUTCOME_REFUSED,      /* lockboxd answered with an error, or with nonsense */
    OUTCOME_CONVERSATION, /* no justification: the conversation failed or the text was bad */
    OUTCOME_ABANDONED,    /* the client hung up while the login waited */
};

struct login_facts {
    const char *tenant;  /* the module's tenant=, or "" */
    const char *service; /* validated PAM_SERVICE */
    const char *rhost;   /* validated PAM_RHOST, or "" */
    int wait_seconds;
    bool may_prompt; /* ask for a justification (auth stack with a conversation) */
    /* sshd: it shows a module's text only with the next prompt or once the stack returns, and
     * on a pty session a second time on its terminal. So: no text while waiting (a prompt
     * instead, where one is possible), none on approval (the session line says until when,
     * once), only why a login is refused. */
    bool text_shown_late;
};

struct decision_io {
    void *ctx;
    enum api_status (*check)(void *ctx, bool final, struct check_reply *out, char *err,
                             size_t err_len);
    enum api_status (*file)(void *ctx, const char *reason, struct lockbox_request *out, char *err,
                            size_t err_len);
    enum api_status (*wait)(void *ctx, const char *id, int timeout_s, struct lockbox_request *out,
                            char *err, size_t err_len);
    /* The daemon's default tenant and host, only for wording; -1 when unknown. */
    int (*describe)(void *ctx, char *tenant, size_t tenant_len, char *host, size_t host_len);
    /* 0 with the answer, -1 when the conversation failed; *too_long if it was cut. */
    int (*ask)(void *ctx, const char *question, char *answer, size_t answer_len, bool *too_long);
    void (*tell)(void *ctx, bool is_error, const char *text);
    int64_t (*monotonic_ms)(void *ctx);
};

struct login_result {
    enum login_outcome outcome;
    /* Only a daemon that is provably not running (no socket, nobody listening) at the very
     * first call lets failmode=safe allow: busy, slow or strange answers never do, and once
     * the daemon has said "not allowed", losing it later never turns into access. */
    bool failmode_applies;
    bool has_request;
    bool abandoned;                   /* the client hung up during the wait */
    struct lockbox_request request;   /* the approval, or the request this login waited on */
    char detail[DECISION_DETAIL_MAX]; /* for syslog: what failed */
};

/* Runs the flow and tells the person the outcome, except when result->failmode_applies: then
 * the caller decides by failmode and calls decision_tell_outcome() itself if it refuses. */
void decide_login(const struct login_facts *facts, const struct decision_io *io,
                  struct login_result *result);

/* The one message that explains an outcome: request id, the admin's comment, what to do next. */
void decision_tell_outcome(const struct decision_io *io, const struct login_result *result);

/* "denied", "pending", ... the why= value of a login.denied line. */
const char *login_outcome_name(enum login_outcome outcome);

#endif
