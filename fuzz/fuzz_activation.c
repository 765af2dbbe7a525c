/* Fuzzes the pure parts of socket activation and readiness (lockboxd/activation.c,
 * lockboxd/readiness.c) with what the environment may hold. Input: a flags byte (bit i set:
 * field i is absent, as an unset variable), then NUL-separated LISTEN_PID, LISTEN_FDS, our
 * pid (decimal) and NOTIFY_SOCKET. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "activation.h"
#include "fuzz.h"
#include "readiness.h"

#define FIELDS 4

/* All digits, at least one: what a count or a pid must be. */
static int is_number(const char *s)
{
    return s != NULL && s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

static void check_activation(const char *listen_pid, const char *listen_fds, pid_t self)
{
    int count = activation_parse(listen_pid, listen_fds, self);

    FUZZ_CHECK(count >= -1 && count <= ACTIVATION_MAX_FDS);
    if (listen_pid == NULL && listen_fds == NULL)
        FUZZ_CHECK(count == 0);
    if ((listen_pid == NULL) != (listen_fds == NULL))
        FUZZ_CHECK(count == -1); /* half the pair is malformed, never "not for us" */
    if (count > 0) {
        /* Descriptors are taken only when both variables are plain numbers naming us. */
        FUZZ_CHECK(is_number(listen_pid) && is_number(listen_fds));
        FUZZ_CHECK(strtol(listen_pid, NULL, 10) == (long)self);
        FUZZ_CHECK(strtol(listen_fds, NULL, 10) == count);
    }
    if (count >= 0 && listen_pid != NULL)
        FUZZ_CHECK(is_number(listen_pid) && is_number(listen_fds));
}

static void check_readiness(const char *value)
{
    struct sockaddr_un addr;
    socklen_t len = 0;
    size_t n = value != NULL ? strlen(value) : 0;
    int usable = value != NULL && (value[0] == '/' || value[0] == '@') && n >= 2 && n <= 107;

    memset(&addr, 0xa5, sizeof(addr));
    int rc = readiness_address(value, &addr, &len);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == usable);
    if (rc != 0)
        return;
    FUZZ_CHECK(addr.sun_family == AF_UNIX);
    FUZZ_CHECK(len > offsetof(struct sockaddr_un, sun_path));
    FUZZ_CHECK(len <= sizeof(struct sockaddr_un));
    size_t path_len = len - offsetof(struct sockaddr_un, sun_path);
    if (value[0] == '/') {
        /* A path is sent with its terminating NUL. */
        FUZZ_CHECK(path_len == n + 1);
        FUZZ_CHECK(memcmp(addr.sun_path, value, n + 1) == 0);
    } else {
        /* An abstract name: a leading NUL, then the name, its length given by len alone. */
        FUZZ_CHECK(path_len == n);
        FUZZ_CHECK(addr.sun_path[0] == '\0');
        FUZZ_CHECK(memcmp(addr.sun_path + 1, value + 1, n - 1) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *field[FIELDS] = {NULL, NULL, NULL, NULL};

    if (size < 1 || size > 4096)
        return 0;
    char *text = fuzz_cstring(data + 1, size - 1);
    char *p = text, *end = text + (size - 1);
    for (int i = 0; i < FIELDS; i++) {
        field[i] = p <= end ? p : "";
        if (p <= end)
            p += strlen(p) + 1;
    }
    for (int i = 0; i < FIELDS; i++) {
        if (data[0] & (1u << i))
            field[i] = NULL;
    }
    pid_t self = field[2] != NULL ? (pid_t)strtol(field[2], NULL, 10) : 1;

    check_activation(field[0], field[1], self);
    check_readiness(field[3]);
    free(text);
    return 0;
}
