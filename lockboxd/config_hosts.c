/* [daemon] role and [tenant NAME] hosts: the words fleet mode adds to lockboxd.conf. */
#include "config_hosts.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = {
    [LOCKBOXD_ROLE_STANDALONE] = "standalone",
    [LOCKBOXD_ROLE_CENTRAL] = "central",
    [LOCKBOXD_ROLE_AGENT] = "agent",
};

int config_role_parse(const char *text, enum lockboxd_role *role)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++) {
        if (strcmp(text, role_names[i]) == 0) {
            *role = (enum lockboxd_role)i;
            return 0;
        }
    }
    return -1;
}

const char *config_role_name(enum lockboxd_role role)
{
    return (size_t)role < sizeof(role_names) / sizeof(role_names[0]) ? role_names[role] : "?";
}

/* A host name's characters (text_is_host's), plus fnmatch's own. A backslash is refused: it
 * would make a pattern mean something else than it looks like. */
static bool is_host_pattern(const char *entry)
{
    size_t len = strlen(entry);

    if (len == 0 || len > LOCKBOX_HOST_MAX || entry[0] == '-')
        return false;
    for (const char *p = entry; *p; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9');
        if (!alnum && strchr("._:%-*?[]", *p) == NULL)
            return false;
    }
    return true;
}

static char *trimmed(char *item)
{
    while (*item == ' ' || *item == '\t')
        item++;
    size_t len = strlen(item);
    while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
        item[--len] = '\0';
    return item;
}

int host_patterns_add(struct host_patterns *patterns, char *list, char *err, size_t err_len)
{
    char *save = NULL;

    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = trimmed(item);
        if (!is_host_pattern(item)) {
            snprintf(err, err_len,
                     "hosts: '%.40s' is not a host name or pattern ([A-Za-z0-9._:%%-] and *?[])",
                     item);
            return -1;
        }
        if (patterns->count >= LOCKBOX_HOSTS_MAX) {
            snprintf(err, err_len, "hosts: more than %d entries", LOCKBOX_HOSTS_MAX);
            return -1;
        }
        patterns->entries[patterns->count] = strdup(item);
        if (patterns->entries[patterns->count] == NULL) {
            snprintf(err, err_len, "hosts: out of memory");
            return -1;
        }
        patterns->count++;
    }
    return 0;
}

void host_patterns_free(struct host_patterns *patterns)
{
    for (unsigned i = 0; i < patterns->count; i++)
        free(patterns->entries[i]);
    patterns->count = 0;
}

bool host_patterns_match(const struct host_patterns *patterns, const char *host)
{
    for (unsigned i = 0; i < patterns->count; i++) {
        if (fnmatch(patterns->entries[i], host, 0) == 0)
            return true;
    }
    return false;
}
