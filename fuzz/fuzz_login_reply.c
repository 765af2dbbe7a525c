/* Fuzzes the PAM module's reading of lockboxd's replies (pam_lockbox/daemon_api.c) with the
 * fuzz input as the one message lockboxd sends back. The property that matters: the module
 * lets a login through only on an approved request of this very user, whatever the reply. */
#include <string.h>

#include "daemon_api.h"
#include "fuzz.h"
#include "lockbox_limits.h"
#include "login_message.h"
#include "login_request.h"
#include "text.h"

#define USER "eng1"
#define TENANT "contoso"
#define WAIT_ID "9f0c9f0c9f0c9f0c9f0c9f0c9f0c9f0c"

/* The reply the next login_call() returns, and how many calls were made. */
static const uint8_t *reply_data;
static size_t reply_size;
static int calls;

/* Every request the module sends must be one lockboxd accepts (lockboxd/login_request.c). */
static void check_sent(json_object *request)
{
    char text[LOCKBOX_LOGIN_MESSAGE_MAX + 1], err[256];
    struct login_request parsed;

    ssize_t len = login_message_format(request, text, sizeof(text));
    FUZZ_CHECK(len > 0);
    if (login_request_parse(text, (size_t)len, &parsed, err, sizeof(err)) != 0) {
        fprintf(stderr, "lockboxd would refuse %s: %s\n", text, err);
        FUZZ_CHECK(0);
    }
    login_request_free(&parsed);
}

/* Stands in for pam_lockbox/login_client.c: what it does with the bytes after recv(). */
enum api_status login_call(struct login_channel *channel, json_object *request, long timeout_ms,
                           json_object **reply, char *err, size_t err_len)
{
    char why[256];

    FUZZ_CHECK(channel != NULL && channel->fd == -1);
    FUZZ_CHECK(timeout_ms > 0);
    calls++;
    check_sent(request);
    *reply = login_message_parse((const char *)reply_data, reply_size, why, sizeof(why));
    if (*reply == NULL) {
        snprintf(err, err_len, "bad answer: %s", why);
        return API_MALFORMED;
    }
    if (login_message_status(*reply) < 0) {
        json_object_put(*reply);
        *reply = NULL;
        snprintf(err, err_len, "the answer has no status");
        return API_MALFORMED;
    }
    return API_OK;
}

/* A request the module accepted is this login's: a real id, this user, this tenant. */
static void check_ours(const struct lockbox_request *req)
{
    FUZZ_CHECK(api_id_is_valid(req->id));
    FUZZ_CHECK(strcmp(req->user, USER) == 0);
    FUZZ_CHECK(strcmp(req->tenant, TENANT) == 0);
    FUZZ_CHECK(text_is_host(req->host, LOCKBOX_HOST_MAX));
}

static void run_check(const struct api_target *target, bool final)
{
    struct check_reply out;
    char err[256] = "";

    enum api_status st = api_check(target, final, &out, err, sizeof(err));
    if (st == API_OK && out.allowed) {
        /* The safety property: access only on this user's approval. */
        FUZZ_CHECK(out.has_request);
        FUZZ_CHECK(out.request.state == REQUEST_APPROVED);
        check_ours(&out.request);
    }
    if (st == API_OK && out.has_request)
        check_ours(&out.request);
    if (st != API_OK) {
        FUZZ_CHECK(!out.allowed);
        FUZZ_CHECK(err[0] != '\0');
    }
}

static void run_file(const struct api_target *target)
{
    struct lockbox_request out;
    char err[256] = "";

    enum api_status st = api_file(target, "INC-4711 disk full", &out, err, sizeof(err));
    if (st == API_OK) {
        FUZZ_CHECK(out.state == REQUEST_PENDING);
        check_ours(&out);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
}

static void run_wait(const struct api_target *target)
{
    struct lockbox_request out;
    char err[256] = "";

    enum api_status st = api_wait(target, WAIT_ID, 30, &out, err, sizeof(err));
    if (st == API_OK) {
        FUZZ_CHECK(strcmp(out.id, WAIT_ID) == 0);
        check_ours(&out);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
}

static void run_describe(const struct api_target *target)
{
    char tenant[LOCKBOX_NAME_MAX + 1], host[LOCKBOX_HOST_MAX + 1];

    memset(tenant, 'X', sizeof(tenant));
    memset(host, 'X', sizeof(host));
    if (api_describe(target, tenant, sizeof(tenant), host, sizeof(host)) == API_OK) {
        FUZZ_CHECK(memchr(tenant, '\0', sizeof(tenant)) != NULL);
        FUZZ_CHECK(memchr(host, '\0', sizeof(host)) != NULL);
        FUZZ_CHECK(text_is_name(tenant, LOCKBOX_NAME_MAX));
        FUZZ_CHECK(text_is_host(host, LOCKBOX_HOST_MAX));
    }
}

static void run_session_open(const struct api_target *target)
{
    char session_id[LOCKBOX_ID_HEX_LEN + 1], err[256] = "";
    struct lockbox_request approval;

    memset(session_id, 'X', sizeof(session_id));
    enum api_status st = api_session_open(target, "pts/3", session_id, &approval, err, sizeof(err));
    if (st == API_OK) {
        FUZZ_CHECK(api_id_is_valid(session_id));
        FUZZ_CHECK(session_id[LOCKBOX_ID_HEX_LEN] == '\0');
        check_ours(&approval);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct login_channel channel = LOGIN_CHANNEL_INIT("/nonexistent/pam.sock");
    const struct api_target target = {&channel, USER, TENANT, "sshd", "203.0.113.9"};

    if (size < 1 || size > LOCKBOX_LOGIN_MESSAGE_MAX + 16)
        return 0;
    /* The reply is exactly the remaining bytes, without a terminator: over-reads show. */
    size_t len = size - 1;
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, len);
    reply_data = copy;
    reply_size = len;
    calls = 0;
    switch (data[0] % 6) {
    case 0: run_check(&target, false); break;
    case 1: run_check(&target, true); break;
    case 2: run_file(&target); break;
    case 3: run_wait(&target); break;
    case 4: run_describe(&target); break;
    default: run_session_open(&target); break;
    }
    FUZZ_CHECK(calls == 1); /* one exchange per call, no retry on a bad answer */
    free(copy);
    return 0;
}
