/* Fuzzes the grant parser (lib/grant.c) and the pinned keys parser (lib/approver_keys.c):
 * whatever grant_parse() accepts builds back to the very same bytes (the parser never accepts
 * what the builder would not write), a built grant parses back to the same struct, and
 * verification of anything parsed runs without fault. */
#include <string.h>

#include "approver_keys.h"
#include "fuzz.h"
#include "grant.h"

#define T0 1764072000000LL

static void check_round_trip(const uint8_t *data, size_t size, const struct grant *parsed)
{
    struct grant again;
    char *built = NULL, err[256];
    size_t len = 0;

    FUZZ_CHECK(grant_build(parsed, &built, &len, err, sizeof(err)) == 0);
    FUZZ_CHECK(len == size && memcmp(built, data, size) == 0);
    FUZZ_CHECK(grant_parse(built, len, &again, err, sizeof(err)) == 0);
    FUZZ_CHECK(memcmp(&again, parsed, sizeof(again)) == 0);
    free(built);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct approver_keys keys;
    struct grant grant;
    struct grant_verification result;
    char err[256];

    memset(err, 'X', sizeof(err));
    if (grant_parse((const char *)data, size, &grant, err, sizeof(err)) == 0) {
        check_round_trip(data, size, &grant);
        /* The same bytes read as a keys file give the verifier something to look up. */
        if (approver_keys_parse((const char *)data, size, "fuzz", &keys, err, sizeof(err)) != 0)
            keys.n_keys = 0;
        grant_verify(&grant, &keys, T0, &result);
        (void)grant_quorum(&grant, &result, NULL, 0);
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && strlen(err) > 0);
    }
    if (approver_keys_parse((const char *)data, size, "fuzz", &keys, err, sizeof(err)) == 0) {
        FUZZ_CHECK(keys.n_keys > 0 && keys.n_keys <= LOCKBOX_APPROVER_KEYS_MAX);
        for (size_t i = 0; i < keys.n_keys; i++) {
            char line[APPROVER_KEY_LINE_MAX];
            FUZZ_CHECK(approver_key_line(keys.keys[i].name, keys.keys[i].raw, line) == 0);
            FUZZ_CHECK(approver_keys_find_id(&keys, keys.keys[i].key_id) == &keys.keys[i]);
        }
    }
    return 0;
}
