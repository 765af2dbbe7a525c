/* Fuzzes lockboxd.conf parsing (lockboxd/config.c config_load) through a memfd, so the real
 * entry point (fopen of a path) is what runs: a file is refused with "FILE..." or yields a
 * configuration that holds every invariant the daemon relies on. */
#define _GNU_SOURCE /* memfd_create */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "text.h"

static void check_config(const struct lockboxd_config *c)
{
    FUZZ_CHECK(text_is_name(c->tenant, LOCKBOX_NAME_MAX));
    FUZZ_CHECK(config_find_tenant(c, c->tenant) != NULL);
    FUZZ_CHECK(c->socket[0] == '/' && c->database[0] == '/' && c->audit_log[0] == '/');
    FUZZ_CHECK(c->request_ttl_s > 0 && c->access_ttl_s > 0);
    FUZZ_CHECK(c->max_pending_per_user >= 1 && c->max_pending_per_user <= 1000);
    FUZZ_CHECK(c->n_tenants <= LOCKBOX_TENANTS_MAX);
    for (unsigned i = 0; i < c->n_tenants; i++) {
        const struct tenant_config *t = &c->tenants[i];
        FUZZ_CHECK(text_is_name(t->name, LOCKBOX_NAME_MAX));
        FUZZ_CHECK(t->n_admins >= 1 && t->n_admins <= LOCKBOX_ADMINS_MAX);
        for (unsigned a = 0; a < t->n_admins; a++) {
            const char *name = t->admins[a][0] == '@' ? t->admins[a] + 1 : t->admins[a];
            FUZZ_CHECK(text_is_name(name, LOCKBOX_NAME_MAX));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lockboxd_config config; /* large: keep it off the stack */
    char path[64], err[1024];

    if (size > 64 * 1024)
        return 0;
    int fd = memfd_create("lockboxd.conf", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    err[0] = '\0';
    if (config_load(path, &config, err, sizeof(err)) == 0) {
        check_config(&config);
        config_free(&config);
    } else {
        /* Every refusal names the file, so an operator knows what to fix. */
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
    }
    close(fd);
    return 0;
}
