/* The login socket's operations as data: which members each takes and which it needs. */
#include "login_request.h"

#include <stdio.h>
#include <string.h>

#include "login_message.h"
#include "text.h"

struct operation_spec {
    const char *name;
    enum login_operation op;
    unsigned allowed; /* enum body_field bits, besides BODY_OP */
    unsigned required;
};

#define LOGIN_WHO (BODY_USER | BODY_TENANT | BODY_SERVICE | BODY_RHOST | BODY_REQUESTER)

static const struct operation_spec operations[] = {
    {LOGIN_OP_CHECK, LOGIN_CHECK, LOGIN_WHO | BODY_FINAL, BODY_USER},
    {LOGIN_OP_FILE, LOGIN_FILE, LOGIN_WHO | BODY_REASON, BODY_USER | BODY_REASON},
    {LOGIN_OP_WAIT, LOGIN_WAIT, BODY_ID | BODY_TIMEOUT, BODY_ID | BODY_TIMEOUT},
    {LOGIN_OP_DESCRIBE, LOGIN_DESCRIBE, 0, 0},
    {LOGIN_OP_SESSION_OPEN, LOGIN_SESSION_OPEN, LOGIN_WHO | BODY_TTY, BODY_USER},
    {LOGIN_OP_SESSION_CLOSE, LOGIN_SESSION_CLOSE, BODY_SESSION_ID, BODY_SESSION_ID},
};

/* Every member a login message may carry: the first parse accepts them all. */
#define EVERY_MEMBER ((unsigned)BODY_REQUESTER * 2 - 1)

static const struct operation_spec *find_operation(const char *name)
{
    for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++) {
        if (strcmp(operations[i].name, name) == 0)
            return &operations[i];
    }
    return NULL;
}

const char *login_operation_name(enum login_operation op)
{
    for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++) {
        if (operations[i].op == op)
            return operations[i].name;
    }
    return "unknown";
}

int login_request_parse(const char *data, size_t len, struct login_request *out, char *err,
                        size_t err_len)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > LOCKBOX_LOGIN_MESSAGE_MAX) {
        snprintf(err, err_len, "a message is 1 to %d bytes", LOCKBOX_LOGIN_MESSAGE_MAX);
        return -1;
    }
    /* First with every member allowed, to learn the op; then its own members are checked. */
    if (body_parse(&out->members, data, len, EVERY_MEMBER, err, err_len) != 0)
        return -1;
    const struct operation_spec *spec = out->members.op ? find_operation(out->members.op) : NULL;
    if (spec == NULL) {
        snprintf(err, err_len,
                 "'op' must be check, file, wait, describe, session_open or "
                 "session_close");
        goto fail;
    }
    out->op = spec->op;
    unsigned given = out->members.present & ~(unsigned)BODY_OP;
    for (unsigned bit = 1; bit <= (unsigned)BODY_REQUESTER; bit <<= 1) {
        if ((given & bit) && !(spec->allowed & bit)) {
            snprintf(err, err_len, "'%s' does not take '%s'", spec->name, body_field_name(bit));
            goto fail;
        }
        if ((spec->required & bit) && !(given & bit)) {
            snprintf(err, err_len, "'%s' needs '%s'", spec->name, body_field_name(bit));
            goto fail;
        }
    }
    return 0;
fail:
    login_request_free(out);
    return -1;
}

void login_request_free(struct login_request *req)
{
    body_free(&req->members);
}
