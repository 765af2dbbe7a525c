/* Fuzzes lockboxd's API body parser (lockboxd/body.c) with every set of allowed fields: a
 * body is either refused with a message, or every field it yields passes its validator. */
#include <string.h>

#include "body.h"
#include "duration.h"
#include "fuzz.h"
#include "lockbox_limits.h"
#include "text.h"

#define ALL_FIELDS 0x1ffu

static void check_fields(const struct body *b, unsigned allowed)
{
    FUZZ_CHECK((b->present & ~allowed) == 0);
    FUZZ_CHECK(b->root != NULL);
    int64_t seconds;
    if (b->present & BODY_REASON)
        FUZZ_CHECK(text_is_clean(b->reason, LOCKBOX_TEXT_MAX));
    if (b->present & BODY_COMMENT)
        FUZZ_CHECK(text_is_clean(b->comment, LOCKBOX_TEXT_MAX));
    if (b->present & BODY_TENANT)
        FUZZ_CHECK(text_is_name(b->tenant, LOCKBOX_NAME_MAX));
    if (b->present & BODY_USER)
        FUZZ_CHECK(text_is_name(b->user, LOCKBOX_NAME_MAX));
    if (b->present & BODY_SERVICE)
        FUZZ_CHECK(text_is_name(b->service, LOCKBOX_NAME_MAX));
    if (b->present & BODY_HOST)
        FUZZ_CHECK(text_is_host(b->host, LOCKBOX_HOST_MAX));
    if (b->present & BODY_RHOST)
        FUZZ_CHECK(text_is_host(b->rhost, LOCKBOX_RHOST_MAX));
    if (b->present & BODY_FOR)
        FUZZ_CHECK(duration_parse(b->duration, &seconds) == 0);
    /* A field that is absent leaves its pointer NULL: the routes rely on it for defaults. */
    if (!(b->present & BODY_REASON))
        FUZZ_CHECK(b->reason == NULL);
    if (!(b->present & BODY_USER))
        FUZZ_CHECK(b->user == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct body body;
    char err[256];

    if (size < 2 || size > LOCKBOX_BODY_MAX + 2)
        return 0;
    unsigned allowed = ((unsigned)data[0] | (unsigned)data[1] << 8) & ALL_FIELDS;
    size_t len = size - 2;
    /* Exactly len bytes, no terminator: an over-read past the body is an ASan report. */
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 2, len);
    err[0] = '\0';
    if (body_parse(&body, copy, len, allowed, err, sizeof(err)) == 0) {
        if (len > 0)
            check_fields(&body, allowed);
        body_free(&body);
    } else {
        FUZZ_CHECK(err[0] != '\0');
        FUZZ_CHECK(body.root == NULL);
    }
    free(copy);
    return 0;
}
