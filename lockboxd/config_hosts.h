/* Fleet mode's configuration words: [daemon] role and a tenant's `hosts` list. Pure: parsing,
 * validation and matching, no I/O (the unit tests and config.c share them). */
#ifndef LOCKBOXD_CONFIG_HOSTS_H
#define LOCKBOXD_CONFIG_HOSTS_H
#include <stdbool.h>
#include <stddef.h>

#include "lockbox_limits.h"

/* What this lockboxd is (docs/DESIGN.md, "Fleet mode"). */
enum lockboxd_role {
    LOCKBOXD_ROLE_STANDALONE, /* gates its own host only (the default) */
    LOCKBOXD_ROLE_CENTRAL,    /* keeps the requests of many hosts; hosts reach it over [remote] */
    LOCKBOXD_ROLE_AGENT,      /* gates its own host with decisions taken from central */
};

/* A tenant's hosts: names or fnmatch(3) patterns ("db01", "web-*"). */
struct host_patterns {
    char *entries[LOCKBOX_HOSTS_MAX];
    unsigned count;
};

/* "standalone", "central" or "agent". Returns 0, or -1 for another word. */
int config_role_parse(const char *text, enum lockboxd_role *role);
const char *config_role_name(enum lockboxd_role role);

/* Adds the comma-separated entries of list (modified in place) to patterns. Returns 0, or -1
 * with what is wrong in err (an entry with other characters than a host name's and "*?[]",
 * or more than LOCKBOX_HOSTS_MAX entries, or out of memory). */
int host_patterns_add(struct host_patterns *patterns, char *list, char *err, size_t err_len);
void host_patterns_free(struct host_patterns *patterns);
/* Does host match one of the patterns (fnmatch without flags: '*' matches '.' too)? */
bool host_patterns_match(const struct host_patterns *patterns, const char *host);

#endif
