/* The libcurl client of lockboxd's API: over its Unix socket (local), or over HTTPS with a
 * client certificate and a pinned CA (remote, docs/DESIGN.md "Fleet mode"). Hardened: no
 * signals, no proxies, no redirects, one protocol per handle, bounded time and reply size. */
#ifndef LOCKBOX_CLIENT_H
#define LOCKBOX_CLIENT_H
#include <json-c/json.h>
#include <stdbool.h>

/* The files of a remote call: all three are required. */
struct lockbox_tls {
    const char *ca_file;   /* PEM CA(s) lockboxd's certificate must chain to; nothing else */
    const char *cert_file; /* PEM client certificate that names the caller */
    const char *key_file;  /* PEM private key of that certificate */
};

struct lockbox_client {
    const char *socket_path; /* local: lockboxd's Unix socket; NULL when server_url is set */
    const char *server_url;  /* remote: https://HOST[:PORT] (lockbox_server_url_check) */
    struct lockbox_tls tls;  /* remote only */
    long connect_timeout_ms; /* 0 → 2000 (TLS handshake included) */
    long total_timeout_ms;   /* 0 → 10000; a long-poll wait sets its wait plus a margin */
};

/* Why a call got no usable answer, so that a caller can say what to fix. */
enum lockbox_failure {
    LOCKBOX_FAILURE_NONE = 0,
    LOCKBOX_FAILURE_UNREACHABLE,       /* connection refused, no socket: nobody listens */
    LOCKBOX_FAILURE_RESOLVE,           /* the server's host name does not resolve */
    LOCKBOX_FAILURE_TIMEOUT,           /* no connection or answer in time */
    LOCKBOX_FAILURE_SERVER_UNTRUSTED,  /* server certificate not signed by our CA */
    LOCKBOX_FAILURE_SERVER_CERT_DATES, /* server certificate expired or not yet valid */
    LOCKBOX_FAILURE_SERVER_NAME,       /* server certificate is for another host name */
    LOCKBOX_FAILURE_CA_FILE,           /* our CA file cannot be used */
    LOCKBOX_FAILURE_CLIENT_CERT,       /* our certificate/key cannot be read or do not match */
    LOCKBOX_FAILURE_HANDSHAKE_REFUSED, /* the server broke off the TLS handshake */
    LOCKBOX_FAILURE_BROKEN_REPLY,      /* an answer began and then broke off, or was no JSON */
    LOCKBOX_FAILURE_OTHER,
};

struct lockbox_reply {
    long status;                  /* HTTP status, 0 when no answer arrived */
    bool reached;                 /* the connection was made (false: refused, no socket) */
    enum lockbox_failure failure; /* set when lockbox_call returns -1 */
    json_object *body;            /* parsed JSON reply, or NULL */
    char error[512];              /* transport error, or the reply's "message" for a 4xx/5xx */
    char error_code[64];          /* the reply's "error" for a 4xx/5xx, e.g. certificate_refused */
    char detail[256];             /* libcurl's own words for a failed transfer */
};

/* Sends METHOD path (e.g. "/v1/requests") with an optional JSON body. Returns 0 when the
 * daemon answered (any status; see reply->status), -1 when it could not be reached or the
 * reply was not JSON (reply->failure and reply->error say why). Always call
 * lockbox_reply_free afterwards. */
int lockbox_call(const struct lockbox_client *client, const char *method, const char *path,
                 json_object *body, struct lockbox_reply *reply);

void lockbox_reply_free(struct lockbox_reply *reply);

/* Percent-encodes one query value into out; returns -1 if it does not fit. */
int lockbox_query_escape(const char *value, char *out, size_t out_len);

/* Checks a server URL: https://HOST[:PORT][/] and nothing more (no user, path, query or
 * fragment). Writes the canonical base "https://HOST:PORT" to out. Returns 0, or -1 with a
 * reason in err. */
int lockbox_server_url_check(const char *url, char *out, size_t out_len, char *err, size_t err_len);

/* Classifies a failed transfer from libcurl's code (a CURLcode), the X.509 verification
 * result of the server's certificate (CURLINFO_SSL_VERIFYRESULT) and libcurl's own words. */
enum lockbox_failure lockbox_failure_classify(int curl_code, long verify_result,
                                              const char *detail);

#endif
