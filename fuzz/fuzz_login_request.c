/* Fuzzes lockboxd's login socket request parser (lockboxd/login_request.c): a message is either
 * refused with a message, or it yields a known op with exactly the members that op takes, each
 * within its limits; and the framing agrees with the module's (lib/login_message.c). */
#include <string.h>

#include "fuzz.h"
#include "lockbox_limits.h"
#include "login_message.h"
#include "login_request.h"
#include "text.h"

#define WHO (BODY_USER | BODY_TENANT | BODY_SERVICE | BODY_RHOST)

struct op_members {
    enum login_operation op;
    const char *name;
    unsigned allowed; /* besides BODY_OP */
    unsigned required;
};

/* Written out again from the protocol (docs/API.md), not copied from the parser's table. */
static const struct op_members expected[] = {
    {LOGIN_CHECK, "check", WHO | BODY_FINAL, BODY_USER},
    {LOGIN_FILE, "file", WHO | BODY_REASON, BODY_USER | BODY_REASON},
    {LOGIN_WAIT, "wait", BODY_ID | BODY_TIMEOUT, BODY_ID | BODY_TIMEOUT},
    {LOGIN_DESCRIBE, "describe", 0, 0},
    {LOGIN_SESSION_OPEN, "session_open", WHO | BODY_TTY, BODY_USER},
    {LOGIN_SESSION_CLOSE, "session_close", BODY_SESSION_ID, BODY_SESSION_ID},
};

/* The member as the message wrote it: a string of the same length as the C string the parser
 * hands on (no "\u0000" cutting it short), within max bytes. */
static void check_string(const struct body *m, const char *key, const char *value, size_t max)
{
    json_object *member;

    FUZZ_CHECK(value != NULL);
    FUZZ_CHECK(json_object_object_get_ex(m->root, key, &member));
    FUZZ_CHECK(json_object_is_type(member, json_type_string));
    FUZZ_CHECK(json_object_get_string(member) == value);
    size_t len = strlen(value);
    FUZZ_CHECK(len == (size_t)json_object_get_string_len(member));
    FUZZ_CHECK(len >= 1 && len <= max);
}

static void check_members(const struct login_request *req)
{
    const struct body *m = &req->members;
    const struct op_members *spec = NULL;

    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        if (expected[i].op == req->op)
            spec = &expected[i];
    }
    FUZZ_CHECK(spec != NULL);
    FUZZ_CHECK(strcmp(login_operation_name(req->op), spec->name) == 0);
    FUZZ_CHECK(m->root != NULL && (m->present & BODY_OP));
    check_string(m, "op", m->op, 32);
    FUZZ_CHECK(strcmp(m->op, spec->name) == 0);

    unsigned given = m->present & ~(unsigned)BODY_OP;
    FUZZ_CHECK((given & ~spec->allowed) == 0);
    FUZZ_CHECK((given & spec->required) == spec->required);
    /* Every member of the object is one the parser accounted for. */
    FUZZ_CHECK((size_t)json_object_object_length(m->root) ==
               (size_t)__builtin_popcount(m->present));

    if (given & BODY_USER) {
        check_string(m, "user", m->user, LOCKBOX_NAME_MAX);
        FUZZ_CHECK(text_is_name(m->user, LOCKBOX_NAME_MAX));
    } else {
        FUZZ_CHECK(m->user == NULL);
    }
    if (given & BODY_TENANT) {
        check_string(m, "tenant", m->tenant, LOCKBOX_NAME_MAX);
        FUZZ_CHECK(text_is_name(m->tenant, LOCKBOX_NAME_MAX));
    }
    if (given & BODY_SERVICE) {
        check_string(m, "service", m->service, LOCKBOX_NAME_MAX);
        FUZZ_CHECK(text_is_name(m->service, LOCKBOX_NAME_MAX));
    }
    if (given & BODY_RHOST) {
        check_string(m, "rhost", m->rhost, LOCKBOX_RHOST_MAX);
        FUZZ_CHECK(text_is_host(m->rhost, LOCKBOX_RHOST_MAX));
    }
    if (given & BODY_REASON) {
        check_string(m, "reason", m->reason, LOCKBOX_TEXT_MAX);
        FUZZ_CHECK(text_is_clean(m->reason, LOCKBOX_TEXT_MAX));
    } else {
        FUZZ_CHECK(m->reason == NULL);
    }
    if (given & BODY_TTY) {
        check_string(m, "tty", m->tty, 63);
        FUZZ_CHECK(strstr(m->tty, "..") == NULL);
    }
    if (given & BODY_ID) {
        check_string(m, "id", m->id, LOCKBOX_ID_HEX_LEN);
        FUZZ_CHECK(strlen(m->id) == LOCKBOX_ID_HEX_LEN);
        FUZZ_CHECK(strspn(m->id, "0123456789abcdef") == LOCKBOX_ID_HEX_LEN);
    } else {
        FUZZ_CHECK(m->id == NULL);
    }
    if (given & BODY_SESSION_ID) {
        check_string(m, "session_id", m->session_id, LOCKBOX_ID_HEX_LEN);
        FUZZ_CHECK(strspn(m->session_id, "0123456789abcdef") == LOCKBOX_ID_HEX_LEN);
    } else {
        FUZZ_CHECK(m->session_id == NULL);
    }
    if (given & BODY_TIMEOUT)
        FUZZ_CHECK(m->timeout >= 0 && m->timeout <= LOCKBOX_WAIT_MAX_SECONDS);
    else
        FUZZ_CHECK(m->timeout == 0);
    if (!(given & BODY_FINAL))
        FUZZ_CHECK(!m->final);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct login_request req;
    char err[256];

    if (size > LOCKBOX_LOGIN_MESSAGE_MAX + 16)
        return 0;
    /* Exactly size bytes, no terminator, as recv() leaves them: an over-read is an ASan report. */
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    err[0] = '\0';
    if (login_request_parse(copy, size, &req, err, sizeof(err)) == 0) {
        check_members(&req);
        /* Whatever lockboxd accepts as a request, the shared framing accepts as a message. */
        char why[256];
        json_object *msg = login_message_parse(copy, size, why, sizeof(why));
        if (msg == NULL)
            fprintf(stderr, "login_message_parse refused an accepted request: %s\n", why);
        FUZZ_CHECK(msg != NULL);
        json_object_put(msg);
        login_request_free(&req);
        FUZZ_CHECK(req.members.root == NULL);
    } else {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(req.members.root == NULL);
    }
    free(copy);
    return 0;
}
