/* lockboxd's configuration: an INI file parsed with inih, validated strictly (file:line). */
#ifndef LOCKBOXD_CONFIG_H
#define LOCKBOXD_CONFIG_H
#include <stdint.h>

#include "config_central.h"
#include "config_grants.h"
#include "config_hosts.h"
#include "config_remote.h"
#include "lockbox_limits.h"
#include "request.h"

struct tenant_config {
    char name[LOCKBOX_NAME_MAX + 1];
    char *admins[LOCKBOX_ADMINS_MAX]; /* "alice" or "@group" */
    unsigned n_admins;
    unsigned line; /* where the section starts, for messages */
    /* Notifications (optional): a webhook and/or a command, see notify.h. */
    char notify_url[LOCKBOX_PATH_MAX];
    char notify_secret[LOCKBOX_NOTIFY_SECRET_MAX + 1];
    char notify_command[LOCKBOX_PATH_MAX];
    char notify_user[LOCKBOX_NAME_MAX + 1]; /* runs notify_command; default "nobody" */
    int64_t notify_before_s;                /* warn this long before a deadline; 0 = never */
    struct host_patterns hosts;  /* role=central: the hosts whose data are this tenant's */
    struct tenant_grants grants; /* signed approvals (Step 16) */
};

struct lockboxd_config {
    char path[LOCKBOX_PATH_MAX];
    enum lockboxd_role role;           /* [daemon] role */
    char socket[LOCKBOX_PATH_MAX];     /* the HTTP API (mode 0666) */
    char pam_socket[LOCKBOX_PATH_MAX]; /* the login socket (root only) */
    char database[LOCKBOX_PATH_MAX];   /* sqlite's file */
    char store_backend[16];            /* [store] backend: "" (sqlite) or "postgresql" */
    char store_dsn[LOCKBOX_DSN_MAX];   /* [store] dsn (may hold a password: never logged) */
    char audit_log[LOCKBOX_PATH_MAX];
    char tenant[LOCKBOX_NAME_MAX + 1];
    char host[LOCKBOX_HOST_MAX + 1];
    int64_t request_ttl_s;
    int64_t access_ttl_s;
    int max_pending_per_user;
    int max_calls_per_user; /* concurrent API calls (long-polls included) of one non-root uid */
    int max_connections_per_user; /* open connections of one non-root uid, idle ones included */
    int64_t session_grace_s;      /* SIGHUP → SIGKILL when a session is terminated */
    int64_t session_warning_s;    /* warn a session this long before its access ends; 0 = never */
    struct tenant_config tenants[LOCKBOX_TENANTS_MAX];
    unsigned n_tenants;
    struct remote_config remote;   /* [remote]: the TLS listener, when present */
    struct central_config central; /* [central]: role = agent's link, when present */
};

/* Loads and validates path. Returns 0, or -1 with a "FILE:LINE: what is wrong" message in err. */
int config_load(const char *path, struct lockboxd_config *config, char *err, size_t err_len);
void config_free(struct lockboxd_config *config);
/* SIGHUP: reads every tenant's pinned approver keys again; a file that fails keeps the keys
 * read before (each failure is logged). Returns how many failed. */
int config_reload_approver_keys(struct lockboxd_config *config);

/* Which database the store opens (store.h); out points into config. */
struct store_config;
void config_store(const struct lockboxd_config *config, struct store_config *out);

/* role=central: the tenant host belongs to (the first whose hosts match it), or NULL. */
const struct tenant_config *config_tenant_of_host(const struct lockboxd_config *config,
                                                  const char *host);
const struct tenant_config *config_find_tenant(const struct lockboxd_config *config,
                                               const char *name);
/* The tenant's admin list in the pure core's shape (valid while config lives). */
struct lockbox_tenant_policy config_tenant_policy(const struct tenant_config *tenant);
/* The @group entries of every tenant's admins, without '@' and each once; out points into
 * config. Returns how many (at most max). */
size_t config_admin_groups(const struct lockboxd_config *config, const char **out, size_t max);
/* The policy of tenant `name`: its admins, or none at all for a tenant the configuration no
 * longer has (its requests stay readable by their owners and root, decidable by nobody). */
struct lockbox_tenant_policy config_policy_for(const struct lockboxd_config *config,
                                               const char *name);

#endif
