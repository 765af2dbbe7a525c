/* libcurl over a Unix socket or over HTTPS with a client certificate. Every handle gets the
 * same hardening (docs/DESIGN.md, "Security rules"). */
#include "client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "lockbox_limits.h"

struct reply_buffer {
    char *data;
    size_t len, cap;
    int too_large;
};

static size_t collect_body(char *chunk, size_t size, size_t count, void *userdata)
{
    struct reply_buffer *buf = userdata;
    size_t n = size * count;

    if (buf->len + n > LOCKBOX_REPLY_MAX) {
        buf->too_large = 1;
        return 0; /* makes libcurl abort the transfer */
    }
    if (array_grow(&buf->data, &buf->cap, buf->len + n + 1, 1, 4096) != 0)
        return 0;
    memcpy(buf->data + buf->len, chunk, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return n;
}

static int harden_common(CURL *curl, const struct lockbox_client *client, char *error_buffer)
{
    long connect_ms = client->connect_timeout_ms > 0 ? client->connect_timeout_ms : 2000;
    long total_ms = client->total_timeout_ms > 0 ? client->total_timeout_ms : 10000;

    /* No SIGALRM-based resolver timeouts; no proxy from the environment (https_proxy would
     * see the request), no netrc, no redirects, no connection kept for another call. */
    if (curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK)
        return -1;
    return 0;
}

static int harden_local(CURL *curl, const struct lockbox_client *client)
{
    /* http to the local socket only. */
    if (curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, client->socket_path) != CURLE_OK)
        return -1;
    return 0;
}

static int harden_remote(CURL *curl, const struct lockbox_tls *tls)
{
    /* https only, TLS 1.2 or later, and the CA pinned: CAINFO is our CA file and the system's
     * CA directory and native store are switched off, so a certificate some public CA issued
     * for the same name is not accepted. */
    if (curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CAINFO, tls->ca_file) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSL_OPTIONS, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSLCERT, tls->cert_file) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSLKEY, tls->key_file) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK)
        return -1;
    return 0;
}

static int harden(CURL *curl, const struct lockbox_client *client, char *error_buffer)
{
    if (harden_common(curl, client, error_buffer) != 0)
        return -1;
    if (client->server_url != NULL)
        return harden_remote(curl, &client->tls);
    return harden_local(curl, client);
}

static void take_error_message(struct lockbox_reply *reply)
{
    json_object *message, *code;

    if (reply->status < 400)
        return;
    if (reply->body != NULL && json_object_object_get_ex(reply->body, "error", &code) &&
        json_object_is_type(code, json_type_string))
        snprintf(reply->error_code, sizeof(reply->error_code), "%s", json_object_get_string(code));
    if (reply->body != NULL && json_object_object_get_ex(reply->body, "message", &message) &&
        json_object_is_type(message, json_type_string))
        snprintf(reply->error, sizeof(reply->error), "%s", json_object_get_string(message));
    else
        snprintf(reply->error, sizeof(reply->error), "lockboxd answered HTTP %ld", reply->status);
}

static int parse_reply(struct reply_buffer *buf, struct lockbox_reply *reply)
{
    if (buf->len == 0)
        return 0;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return -1;
    reply->body = json_tokener_parse_ex(tok, buf->data, (int)buf->len);
    int ok = reply->body != NULL && json_tokener_get_error(tok) == json_tokener_success &&
             tok->char_offset == (int)buf->len;
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(reply->body);
        reply->body = NULL;
        snprintf(reply->error, sizeof(reply->error), "lockboxd sent a reply that is not JSON");
        return -1;
    }
    return 0;
}

static int build_url(const struct lockbox_client *client, const char *path, char *url,
                     size_t url_len)
{
    const char *base = client->server_url != NULL ? client->server_url : "http://lockboxd";

    if (client->server_url == NULL && client->socket_path == NULL)
        return -1;
    if (client->server_url != NULL &&
        (client->tls.ca_file == NULL || client->tls.cert_file == NULL ||
         client->tls.key_file == NULL))
        return -1;
    return snprintf(url, url_len, "%s%s", base, path) < (int)url_len ? 0 : -1;
}

/* A transfer that failed: what it means, and libcurl's own words for the message. */
static void describe_failure(CURL *curl, const struct lockbox_client *client, CURLcode res,
                             const char *curl_words, const struct reply_buffer *buf,
                             struct lockbox_reply *reply)
{
    long verify_result = 0;
    const char *where = client->server_url != NULL ? client->server_url : client->socket_path;
    const char *words = buf->too_large          ? "reply too large"
                        : curl_words[0] != '\0' ? curl_words
                                                : curl_easy_strerror(res);

    /* A status line that arrived means lockboxd was reached and then broke off (or sent
     * too much): a malformed answer, not an unreachable daemon, so failmode=safe does not
     * turn it into an allowed login (tests/security/test_module.py). */
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    curl_easy_getinfo(curl, CURLINFO_SSL_VERIFYRESULT, &verify_result);
    reply->failure = reply->status != 0 || buf->too_large
                         ? LOCKBOX_FAILURE_BROKEN_REPLY
                         : lockbox_failure_classify(res, verify_result, words);
    /* Only a refused or impossible connection means "not running". A daemon that took
     * the connection and then said nothing in time (overloaded, or tied up by a local
     * user) was reached: the login must be denied, never let through by failmode=safe. */
    snprintf(reply->detail, sizeof(reply->detail), "%s", words);
    reply->reached = reply->failure != LOCKBOX_FAILURE_UNREACHABLE &&
                     reply->failure != LOCKBOX_FAILURE_RESOLVE;
    snprintf(reply->error, sizeof(reply->error), "%s lockboxd at %s: %s",
             reply->status != 0 ? "a broken reply from"
             : reply->reached   ? "no answer in time from"
                                : "cannot reach",
             where, words);
}

int lockbox_call(const struct lockbox_client *client, const char *method, const char *path,
                 json_object *body, struct lockbox_reply *reply)
{
    struct reply_buffer buf = {NULL, 0, 0, 0};
    struct curl_slist *headers = NULL;
    char url[1024], curl_words[CURL_ERROR_SIZE] = "";
    int rc = -1;

    memset(reply, 0, sizeof(*reply));
    reply->failure = LOCKBOX_FAILURE_OTHER;
    if (build_url(client, path, url, sizeof(url)) != 0) {
        snprintf(reply->error, sizeof(reply->error),
                 "invalid socket path, server, TLS files or request path");
        return -1;
    }
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(reply->error, sizeof(reply->error), "cannot initialise libcurl");
        return -1;
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    if (headers == NULL || harden(curl, client, curl_words) != 0 ||
        curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf) != CURLE_OK) {
        snprintf(reply->error, sizeof(reply->error), "cannot configure libcurl");
        goto out;
    }
    if (body != NULL &&
        curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS,
                         json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN)) !=
            CURLE_OK) {
        snprintf(reply->error, sizeof(reply->error), "cannot attach the request body");
        goto out;
    }
    CURLcode res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        describe_failure(curl, client, res, curl_words, &buf, reply);
        goto out;
    }
    reply->reached = true;
    reply->failure = LOCKBOX_FAILURE_BROKEN_REPLY; /* until the body parses */
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    if (parse_reply(&buf, reply) != 0)
        goto out;
    reply->failure = LOCKBOX_FAILURE_NONE;
    take_error_message(reply);
    rc = 0;
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    free(buf.data);
    return rc;
}

void lockbox_reply_free(struct lockbox_reply *reply)
{
    json_object_put(reply->body);
    reply->body = NULL;
}

int lockbox_query_escape(const char *value, char *out, size_t out_len)
{
    /* libcurl ≥ 7.82 encodes without a handle. */
    char *escaped = curl_easy_escape(NULL, value, 0);
    int rc = -1;

    if (escaped != NULL && strlen(escaped) < out_len) {
        memcpy(out, escaped, strlen(escaped) + 1);
        rc = 0;
    }
    curl_free(escaped);
    return rc;
}
