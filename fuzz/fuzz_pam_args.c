/* Fuzzes the PAM module's option parser (pam_lockbox/args.c parse_args): the input is split at
 * NULs into argv. Options are refused with a message, or yield values inside their bounds. */
#include <string.h>

#include "args.h"
#include "fuzz.h"
#include "text.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *argv[MAX_ARGS];
    char err[512];
    struct lockbox_args args;
    int argc = 0;

    if (size > 8192)
        return 0;
    char *store = fuzz_cstring(data, size);
    for (size_t i = 0, start = 0; i <= size && argc < MAX_ARGS; i++) {
        if (i == size || store[i] == '\0') {
            argv[argc++] = store + start;
            start = i + 1;
        }
    }
    err[0] = '\0';
    if (parse_args(argc, argv, &args, err, sizeof(err)) == 0) {
        size_t len = strnlen(args.socket_path, sizeof(args.socket_path));
        FUZZ_CHECK(len < sizeof(args.socket_path) && args.socket_path[0] == '/');
        FUZZ_CHECK(text_is_clean(args.socket_path, LOCKBOX_SOCKET_PATH_MAX));
        FUZZ_CHECK(args.wait_seconds >= 0 && args.wait_seconds <= LOCKBOX_WAIT_MAX_SECONDS);
        FUZZ_CHECK(args.failmode == FAILMODE_SECURE || args.failmode == FAILMODE_SAFE);
        FUZZ_CHECK(args.tenant[0] == '\0' || text_is_name(args.tenant, LOCKBOX_NAME_MAX));
    } else {
        FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
        /* The message goes to syslog with the bad option in it: it must be escaped. */
        FUZZ_CHECK(text_is_clean(err, sizeof(err)));
    }
    free(store);
    return 0;
}
