/* parse_args(): every option is checked here, so a typo on a PAM line denies instead of silently
 * falling back to a default. */
#include "args.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

enum option_bit {
    SEEN_SOCKET = 1 << 0,
    SEEN_TENANT = 1 << 1,
    SEEN_WAIT = 1 << 2,
    SEEN_FAILMODE = 1 << 3,
    SEEN_DEBUG = 1 << 4,
    SEEN_PUBLICKEY_FIRST = 1 << 5,
};

/* Decimal digits only: no sign, no spaces, no hex, nothing strtol would quietly accept. */
static int parse_wait(const char *text, int *seconds)
{
    size_t len = strlen(text);
    int value = 0;

    if (len == 0 || len > 4)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    if (value > LOCKBOX_WAIT_MAX_SECONDS)
        return -1;
    *seconds = value;
    return 0;
}

static int parse_socket(const char *text, struct lockbox_args *args)
{
    size_t len = strnlen(text, sizeof(args->socket_path));

    /* An absolute path that fits sun_path, printable, without "//" tricks mattering. */
    if (len == 0 || len > LOCKBOX_SOCKET_PATH_MAX || text[0] != '/' ||
        !text_is_clean(text, LOCKBOX_SOCKET_PATH_MAX) || text[len - 1] == '/')
        return -1;
    memcpy(args->socket_path, text, len + 1);
    return 0;
}

static int parse_one(const char *arg, struct lockbox_args *args, unsigned *seen)
{
    unsigned bit;
    int rc;

    if (strncmp(arg, "socket=", 7) == 0) {
        bit = SEEN_SOCKET;
        rc = parse_socket(arg + 7, args);
    } else if (strncmp(arg, "tenant=", 7) == 0) {
        bit = SEEN_TENANT;
        rc = text_is_name(arg + 7, LOCKBOX_NAME_MAX) ? 0 : -1;
        if (rc == 0)
            snprintf(args->tenant, sizeof(args->tenant), "%s", arg + 7);
    } else if (strncmp(arg, "wait=", 5) == 0) {
        bit = SEEN_WAIT;
        rc = parse_wait(arg + 5, &args->wait_seconds);
    } else if (strncmp(arg, "failmode=", 9) == 0) {
        bit = SEEN_FAILMODE;
        rc = 0;
        if (strcmp(arg + 9, "secure") == 0)
            args->failmode = FAILMODE_SECURE;
        else if (strcmp(arg + 9, "safe") == 0)
            args->failmode = FAILMODE_SAFE;
        else
            rc = -1;
    } else if (strcmp(arg, "debug") == 0) {
        bit = SEEN_DEBUG;
        rc = 0;
        args->debug = true;
    } else if (strcmp(arg, "publickey_first") == 0) {
        bit = SEEN_PUBLICKEY_FIRST;
        rc = 0;
        args->publickey_first = true;
    } else {
        return -2;
    }
    if (rc != 0)
        return -1;
    if (*seen & bit)
        return -3;
    *seen |= bit;
    return 0;
}

int parse_args(int argc, const char **argv, struct lockbox_args *args, char *err, size_t err_len)
{
    static const char *const why[] = {"", "malformed or out of range", "unknown", "repeated"};
    char shown[128];
    unsigned seen = 0;

    memset(args, 0, sizeof(*args));
    memcpy(args->socket_path, LOCKBOX_DEFAULT_PAM_SOCKET, sizeof(LOCKBOX_DEFAULT_PAM_SOCKET));
    args->wait_seconds = LOCKBOX_WAIT_DEFAULT_SECONDS;
    args->failmode = FAILMODE_SECURE;
    for (int i = 0; i < argc; i++) {
        int rc = argv[i] == NULL ? -2 : parse_one(argv[i], args, &seen);
        if (rc != 0) {
            snprintf(err, err_len,
                     "%s option %s (allowed: socket=PATH tenant=NAME "
                     "wait=0..%d failmode=secure|safe publickey_first debug)",
                     why[-rc], text_escape_log(argv[i], shown, sizeof(shown)),
                     LOCKBOX_WAIT_MAX_SECONDS);
            return -1;
        }
    }
    return 0;
}
