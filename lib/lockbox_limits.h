/* Every size and bound Lockbox enforces, in one place, so that the daemon, the module and the
 * CLI agree on what is too long. */
#ifndef LOCKBOX_LOCKBOX_LIMITS_H
#define LOCKBOX_LOCKBOX_LIMITS_H

#define LOCKBOX_VERSION "0.1.0"

#define LOCKBOX_ID_HEX_LEN 32 /* 128 random bits as lowercase hex */
#define LOCKBOX_NAME_MAX 64   /* user, tenant, service, actor names (bytes) */
/* Callers over TLS are named by their client certificate's URI SAN, and recorded (actor,
 * requested_by) with its scheme, so that records say the call came over TLS. The name after
 * the prefix is kept short enough for the whole to fit where actor names are stored. */
#define LOCKBOX_REMOTE_USER_PREFIX "lockbox:user/"
#define LOCKBOX_REMOTE_HOST_PREFIX "lockbox:host/"
#define LOCKBOX_REMOTE_NAME_MAX (LOCKBOX_NAME_MAX - 13)
#define LOCKBOX_HOST_MAX 253                /* a DNS name */
#define LOCKBOX_RHOST_MAX 255               /* a DNS name or an IPv6 literal with zone */
#define LOCKBOX_TEXT_MAX 1024               /* reason and comment (bytes, UTF-8) */
#define LOCKBOX_PATH_MAX 512                /* socket, database and audit paths */
#define LOCKBOX_SERVER_URL_MAX 300          /* lockboxctl --server: https://HOST:PORT */
#define LOCKBOX_DSN_MAX 1024                /* [store] dsn, a libpq connection string */
#define LOCKBOX_BODY_MAX 16384              /* an API request body */
#define LOCKBOX_LOGIN_MESSAGE_MAX 16384     /* one message on the login socket, either way */
#define LOCKBOX_REPLY_MAX (8 * 1024 * 1024) /* a reply the clients accept (a long list) */
#define LOCKBOX_AUDIT_LINE_MAX 16384
#define LOCKBOX_HASH_HEX_LEN 64 /* SHA-256 as lowercase hex */
#define LOCKBOX_BOOT_ID_LEN 36  /* /proc/sys/kernel/random/boot_id */

/* Signed grants (docs/DESIGN.md, "Grants: the signed statement"). */
#define LOCKBOX_GRANT_SIGNATURES_MAX 16 /* signature lines on one statement */
#define LOCKBOX_GRANT_MAX 4096          /* a whole grant: its statement and 16 signatures */
#define LOCKBOX_APPROVER_KEYS_MAX 256   /* lines with a key in one tenant's pinned keys file */
#define LOCKBOX_APPROVER_KEYS_FILE_MAX (64 * 1024)
#define LOCKBOX_KEY_ID_HEX_LEN 8 /* first 4 bytes of SHA-256 of a raw public key */

#define LOCKBOX_WAIT_MAX_SECONDS 3600
#define LOCKBOX_LIST_DEFAULT 100
#define LOCKBOX_LIST_MAX 1000
#define LOCKBOX_ADMINS_MAX 64 /* entries in one tenant's admins list */
#define LOCKBOX_TENANTS_MAX 64
#define LOCKBOX_HOSTS_MAX 64 /* entries in one tenant's hosts list (central) */
#define LOCKBOX_ADMIN_GROUPS_MAX (LOCKBOX_ADMINS_MAX * LOCKBOX_TENANTS_MAX)
#define LOCKBOX_GROUPS_MAX 256 /* groups of one caller we consider */
#define LOCKBOX_PENDING_PER_USER_DEFAULT 20
#define LOCKBOX_NOTIFY_SECRET_MAX 256
#define LOCKBOX_NOTIFY_BEFORE_DEFAULT_SECONDS 3600
#define LOCKBOX_NOTIFY_TIMEOUT_SECONDS 10 /* one webhook call or command run */
#define LOCKBOX_NOTIFY_MAX_ATTEMPTS 60    /* then the notification is marked failed */

#define LOCKBOX_DEFAULT_TTL_SECONDS (12 * 3600)
#define LOCKBOX_DEFAULT_CONFIG "/etc/lockbox/lockboxd.conf"
#define LOCKBOX_DEFAULT_SOCKET "/run/lockbox/lockboxd.sock"
#define LOCKBOX_DEFAULT_PAM_SOCKET "/run/lockbox/pam.sock"
#define LOCKBOX_DEFAULT_DATABASE "/var/lib/lockbox/lockbox.db"
#define LOCKBOX_DEFAULT_AUDIT_LOG "/var/log/lockbox/audit.jsonl"

#endif
