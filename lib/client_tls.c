/* The pure parts of the remote client: which server URLs are accepted, and what a failed
 * TLS transfer means (so lockboxctl can say what to fix instead of quoting libcurl). */
#include "client.h"

#include <curl/curl.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Everything but the scheme, host and port is refused: a path or query would be silently
 * joined with the API's paths, and a user name or password has no place in a certificate
 * login. */
static int url_has_extras(CURLU *parsed, char *err, size_t err_len)
{
    static const struct {
        CURLUPart part;
        const char *name;
    } extras[] = {
        {CURLUPART_USER, "a user name"},      {CURLUPART_PASSWORD, "a password"},
        {CURLUPART_OPTIONS, "login options"}, {CURLUPART_QUERY, "a query"},
        {CURLUPART_FRAGMENT, "a fragment"},
    };
    char *value = NULL;

    for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
        if (curl_url_get(parsed, extras[i].part, &value, 0) == CURLUE_OK) {
            curl_free(value);
            snprintf(err, err_len, "the server URL must not have %s", extras[i].name);
            return -1;
        }
    }
    if (curl_url_get(parsed, CURLUPART_PATH, &value, 0) == CURLUE_OK) {
        int only_root = strcmp(value, "/") == 0 || value[0] == '\0';
        curl_free(value);
        if (!only_root) {
            snprintf(err, err_len, "the server URL must not have a path (https://HOST:PORT)");
            return -1;
        }
    }
    return 0;
}

static int url_base(CURLU *parsed, char *out, size_t out_len, char *err, size_t err_len)
{
    char *host = NULL, *port = NULL;
    int rc = -1;

    if (curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        snprintf(err, err_len, "the server URL has no host (https://HOST:PORT)");
    else if (curl_url_get(parsed, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        snprintf(err, err_len, "the server URL has no usable port");
    else if ((size_t)snprintf(out, out_len, "https://%s:%s", host, port) >= out_len)
        snprintf(err, err_len, "the server URL is too long");
    else
        rc = 0;
    curl_free(host);
    curl_free(port);
    return rc;
}

int lockbox_server_url_check(const char *url, char *out, size_t out_len, char *err, size_t err_len)
{
    CURLU *parsed;
    int rc = -1;

    /* The scheme is checked on the text itself: curl_url would guess one for "host:8443". */
    if (strncasecmp(url, "https://", 8) != 0) {
        snprintf(err, err_len,
                 "the server URL must start with https:// (lockboxd's TLS "
                 "listener); plain http is never used");
        return -1;
    }
    parsed = curl_url();
    if (parsed == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK)
        snprintf(err, err_len, "the server URL is not a valid URL (https://HOST:PORT)");
    else if (url_has_extras(parsed, err, err_len) == 0)
        rc = url_base(parsed, out, out_len, err, err_len);
    curl_url_cleanup(parsed);
    return rc;
}

static enum lockbox_failure classify_verification(long verify_result, const char *detail)
{
    /* OpenSSL checks the chain during the handshake and libcurl keeps its verdict; libcurl
     * checks the host name itself afterwards, and then leaves the verdict at its initial
     * "unspecified" (1). Its words for a name mismatch all speak of the "target host name". */
    if ((detail != NULL && strstr(detail, "host name") != NULL) || verify_result == X509_V_OK ||
        verify_result == X509_V_ERR_UNSPECIFIED)
        return LOCKBOX_FAILURE_SERVER_NAME;
    if (verify_result == X509_V_ERR_CERT_HAS_EXPIRED ||
        verify_result == X509_V_ERR_CERT_NOT_YET_VALID)
        return LOCKBOX_FAILURE_SERVER_CERT_DATES;
    return LOCKBOX_FAILURE_SERVER_UNTRUSTED;
}

enum lockbox_failure lockbox_failure_classify(int curl_code, long verify_result, const char *detail)
{
    switch ((CURLcode)curl_code) {
    case CURLE_OK: return LOCKBOX_FAILURE_NONE;
    case CURLE_COULDNT_CONNECT: return LOCKBOX_FAILURE_UNREACHABLE;
    case CURLE_COULDNT_RESOLVE_HOST: return LOCKBOX_FAILURE_RESOLVE;
    case CURLE_OPERATION_TIMEDOUT: return LOCKBOX_FAILURE_TIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION: return classify_verification(verify_result, detail);
    case CURLE_SSL_CACERT_BADFILE: return LOCKBOX_FAILURE_CA_FILE;
    case CURLE_SSL_CERTPROBLEM: return LOCKBOX_FAILURE_CLIENT_CERT;
    case CURLE_SSL_CONNECT_ERROR: return LOCKBOX_FAILURE_HANDSHAKE_REFUSED;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        /* Under TLS 1.3 the server checks our certificate after the client has finished its
         * half of the handshake: its refusal arrives as an alert on the first read. */
        return detail != NULL && strstr(detail, "alert") != NULL ? LOCKBOX_FAILURE_HANDSHAKE_REFUSED
                                                                 : LOCKBOX_FAILURE_BROKEN_REPLY;
    case CURLE_WRITE_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return LOCKBOX_FAILURE_BROKEN_REPLY;
    default: return LOCKBOX_FAILURE_OTHER;
    }
}
