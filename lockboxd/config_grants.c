/* The signed-approval keys of a [tenant] section, and reading its pinned keys file safely. */
#define _GNU_SOURCE
#include "config_grants.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int config_grants_key(struct tenant_grants *grants, const char *key, const char *value, char *err,
                      size_t err_len)
{
    if (strcmp(key, "approver_keys") == 0) {
        if (value[0] != '/' || strlen(value) >= sizeof(grants->keys_path)) {
            snprintf(err, err_len, "approver_keys must be an absolute path shorter than %d bytes",
                     LOCKBOX_PATH_MAX);
            return 0;
        }
        snprintf(grants->keys_path, sizeof(grants->keys_path), "%s", value);
        return 1;
    }
    if (strcmp(key, "signed_approvals") == 0) {
        if (strcmp(value, "off") != 0 && strcmp(value, "required") != 0) {
            snprintf(err, err_len, "signed_approvals must be off or required, not '%.40s'", value);
            return 0;
        }
        grants->required = strcmp(value, "required") == 0;
        return 1;
    }
    if (strcmp(key, "approvals_required") == 0) {
        char *end = NULL;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || n < 1 ||
            n > CONFIG_APPROVALS_REQUIRED_MAX) {
            snprintf(err, err_len, "approvals_required must be a number from 1 to %d",
                     CONFIG_APPROVALS_REQUIRED_MAX);
            return 0;
        }
        grants->approvals_required = (unsigned)n;
        return 1;
    }
    return -1;
}

/* The line of `key` inside [tenant NAME] of path (0 when not found), for FILE:LINE. */
static int tenant_key_line(const char *path, const char *tenant, const char *key)
{
    char line[1024], header[LOCKBOX_NAME_MAX + 16];
    int number = 0, found = 0;
    bool inside = false;
    size_t key_len = strlen(key);
    FILE *file = fopen(path, "re");

    if (file == NULL)
        return 0;
    snprintf(header, sizeof(header), "[tenant %s]", tenant);
    while (found == 0 && fgets(line, sizeof(line), file) != NULL) {
        number++;
        const char *p = line + strspn(line, " \t");
        if (*p == '[')
            inside = strncmp(p, header, strlen(header)) == 0;
        else if (inside && strncmp(p, key, key_len) == 0 && strchr(" \t=", p[key_len]) != NULL)
            found = number;
    }
    fclose(file);
    return found;
}

/* Whoever may write the keys file may approve any login of the tenant. */
static int check_keys_file(const char *path, char *err, size_t err_len)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        snprintf(err, err_len, "approver_keys %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0) {
        snprintf(err, err_len,
                 "approver_keys %s must be a regular file owned by root and not writable by "
                 "group or others",
                 path);
        return -1;
    }
    return 0;
}

static int load_keys(struct tenant_grants *grants, char *err, size_t err_len)
{
    struct approver_keys *keys = malloc(sizeof(*keys));

    if (keys == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (check_keys_file(grants->keys_path, err, err_len) != 0 ||
        approver_keys_load(grants->keys_path, keys, err, err_len) != 0) {
        free(keys);
        return -1;
    }
    free(grants->keys);
    grants->keys = keys;
    return 0;
}

int config_grants_check(struct tenant_grants *grants, const char *config_path, const char *tenant,
                        char *err, size_t err_len)
{
    char why[512];
    const char *key = NULL;

    if (grants->approvals_required == 0)
        grants->approvals_required = 1;
    if (grants->approvals_required > 1 && !grants->required) {
        key = "approvals_required";
        snprintf(why, sizeof(why), "approvals_required > 1 needs signed_approvals = required");
    } else if (grants->required && grants->keys_path[0] == '\0') {
        key = "signed_approvals";
        snprintf(why, sizeof(why), "signed_approvals = required needs approver_keys = FILE");
    } else if (grants->keys_path[0] != '\0' && load_keys(grants, why, sizeof(why)) != 0) {
        key = "approver_keys";
    }
    if (key == NULL)
        return 0;
    snprintf(err, err_len, "%s:%d: [tenant %s] %s", config_path,
             tenant_key_line(config_path, tenant, key), tenant, why);
    return -1;
}

int config_grants_reload(struct tenant_grants *grants, char *err, size_t err_len)
{
    return grants->keys_path[0] == '\0' ? 0 : load_keys(grants, err, err_len);
}

void config_grants_free(struct tenant_grants *grants)
{
    free(grants->keys);
    grants->keys = NULL;
}
