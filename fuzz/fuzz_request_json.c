/* Fuzzes the request codec (lib/request_json.c) as the clients use it on a daemon's reply:
 * anything accepted must survive an encode/decode round trip unchanged (times to the second). */
#include <string.h>

#include "fuzz.h"
#include "request_json.h"

static int64_t to_second(int64_t ms)
{
    return ms - ms % 1000;
}

static void check_round_trip(const struct lockbox_request *a)
{
    struct lockbox_request b;
    char err[256];
    json_object *obj = request_to_json(a);

    FUZZ_CHECK(obj != NULL);
    /* Through text, as it travels. */
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
    json_object *parsed = json_tokener_parse(text);
    FUZZ_CHECK(parsed != NULL);
    FUZZ_CHECK(request_from_json(parsed, &b, err, sizeof(err)) == 0);
    FUZZ_CHECK(strcmp(a->id, b.id) == 0 && a->state == b.state);
    FUZZ_CHECK(strcmp(a->tenant, b.tenant) == 0 && strcmp(a->host, b.host) == 0);
    FUZZ_CHECK(strcmp(a->user, b.user) == 0 && strcmp(a->reason, b.reason) == 0);
    FUZZ_CHECK(strcmp(a->service, b.service) == 0 && strcmp(a->rhost, b.rhost) == 0);
    FUZZ_CHECK(strcmp(a->requested_by, b.requested_by) == 0);
    FUZZ_CHECK(strcmp(a->decided_by, b.decided_by) == 0 && strcmp(a->comment, b.comment) == 0);
    FUZZ_CHECK(to_second(a->created_at) == b.created_at);
    FUZZ_CHECK(to_second(a->decided_at) == b.decided_at);
    FUZZ_CHECK(to_second(a->expires_at) == b.expires_at);
    json_object_put(parsed);
    json_object_put(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lockbox_request req;
    char err[256];

    if (size > 64 * 1024)
        return 0;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return 0;
    json_object *obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    if (obj != NULL) {
        err[0] = '\0';
        if (request_from_json(obj, &req, err, sizeof(err)) == 0)
            check_round_trip(&req);
        else
            FUZZ_CHECK(err[0] != '\0');
    }
    json_object_put(obj);
    json_tokener_free(tok);
    return 0;
}
