/* Unit tests of lib/client_tls.c: which server URLs lockboxctl accepts, and what a failed
 * TLS transfer is taken to mean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/x509_vfy.h>
#include <string.h>

#include "client.h"

static void expect_base(const char *url, const char *base)
{
    char out[128], err[256] = "";

    if (lockbox_server_url_check(url, out, sizeof(out), err, sizeof(err)) != 0)
        fail_msg("\"%s\" was refused: %s", url, err);
    assert_string_equal(out, base);
}

static void expect_refused(const char *url, const char *why)
{
    char out[128], err[256] = "";

    if (lockbox_server_url_check(url, out, sizeof(out), err, sizeof(err)) == 0)
        fail_msg("\"%s\" was accepted as %s", url, out);
    if (strstr(err, why) == NULL)
        fail_msg("\"%s\": \"%s\" does not say \"%s\"", url, err, why);
}

static void test_accepted_urls(void **unused)
{
    (void)unused;
    expect_base("https://lockbox.example:8443", "https://lockbox.example:8443");
    expect_base("https://lockbox.example:8443/", "https://lockbox.example:8443");
    expect_base("https://lockbox.example", "https://lockbox.example:443");
    expect_base("HTTPS://127.0.0.1:8443", "https://127.0.0.1:8443");
    expect_base("https://[::1]:8443", "https://[::1]:8443");
}

static void test_refused_urls(void **unused)
{
    (void)unused;
    expect_refused("http://lockbox.example:8443", "https://");
    expect_refused("lockbox.example:8443", "https://");
    expect_refused("ftp://lockbox.example", "https://");
    expect_refused("", "https://");
    expect_refused("https://", "valid URL");
    expect_refused("https://lockbox.example:8443/v1", "path");
    expect_refused("https://lockbox.example:8443/?a=b", "query");
    expect_refused("https://lockbox.example:8443/#top", "fragment");
    expect_refused("https://alice@lockbox.example:8443", "user name");
    expect_refused("https://lockbox.example:99999", "valid URL");
}

static void test_output_too_small(void **unused)
{
    char out[12], err[256];

    (void)unused;
    assert_int_equal(lockbox_server_url_check("https://lockbox.example:8443", out, sizeof(out), err,
                                              sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "too long"));
}

static void test_classify_connection(void **unused)
{
    (void)unused;
    assert_int_equal(lockbox_failure_classify(CURLE_OK, 0, ""), LOCKBOX_FAILURE_NONE);
    assert_int_equal(lockbox_failure_classify(CURLE_COULDNT_CONNECT, 1, ""),
                     LOCKBOX_FAILURE_UNREACHABLE);
    assert_int_equal(lockbox_failure_classify(CURLE_COULDNT_RESOLVE_HOST, 1, ""),
                     LOCKBOX_FAILURE_RESOLVE);
    assert_int_equal(lockbox_failure_classify(CURLE_OPERATION_TIMEDOUT, 1, ""),
                     LOCKBOX_FAILURE_TIMEOUT);
    assert_int_equal(lockbox_failure_classify(CURLE_GOT_NOTHING, 1, ""),
                     LOCKBOX_FAILURE_BROKEN_REPLY);
    assert_int_equal(lockbox_failure_classify(CURLE_UNSUPPORTED_PROTOCOL, 1, ""),
                     LOCKBOX_FAILURE_OTHER);
}

static void test_classify_server_certificate(void **unused)
{
    (void)unused;
    /* The chain failed in the handshake: OpenSSL's verdict is kept. */
    assert_int_equal(lockbox_failure_classify(CURLE_PEER_FAILED_VERIFICATION,
                                              X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                                              "SSL certificate problem: self-signed"),
                     LOCKBOX_FAILURE_SERVER_UNTRUSTED);
    assert_int_equal(lockbox_failure_classify(CURLE_PEER_FAILED_VERIFICATION,
                                              X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                                              "SSL certificate problem: unable to get local"),
                     LOCKBOX_FAILURE_SERVER_UNTRUSTED);
    assert_int_equal(lockbox_failure_classify(CURLE_PEER_FAILED_VERIFICATION,
                                              X509_V_ERR_CERT_HAS_EXPIRED,
                                              "SSL certificate problem: certificate has expired"),
                     LOCKBOX_FAILURE_SERVER_CERT_DATES);
    /* The chain passed; libcurl's own name check failed and left the verdict unset. */
    assert_int_equal(
        lockbox_failure_classify(CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_UNSPECIFIED,
                                 "SSL: no alternative certificate subject name matches target "
                                 "host name 'localhost'"),
        LOCKBOX_FAILURE_SERVER_NAME);
    assert_int_equal(lockbox_failure_classify(CURLE_PEER_FAILED_VERIFICATION, X509_V_OK, NULL),
                     LOCKBOX_FAILURE_SERVER_NAME);
}

static void test_classify_own_files_and_handshake(void **unused)
{
    (void)unused;
    assert_int_equal(lockbox_failure_classify(CURLE_SSL_CACERT_BADFILE, 1, ""),
                     LOCKBOX_FAILURE_CA_FILE);
    assert_int_equal(lockbox_failure_classify(CURLE_SSL_CERTPROBLEM, 1, ""),
                     LOCKBOX_FAILURE_CLIENT_CERT);
    assert_int_equal(lockbox_failure_classify(CURLE_SSL_CONNECT_ERROR, 1, ""),
                     LOCKBOX_FAILURE_HANDSHAKE_REFUSED);
    /* TLS 1.3: the server's refusal of our certificate arrives on the first read. */
    assert_int_equal(lockbox_failure_classify(CURLE_RECV_ERROR, 0,
                                              "OpenSSL SSL_read: error:0A000418:SSL "
                                              "routines::tlsv1 alert unknown ca, errno 0"),
                     LOCKBOX_FAILURE_HANDSHAKE_REFUSED);
    assert_int_equal(lockbox_failure_classify(CURLE_RECV_ERROR, 0, "Connection reset by peer"),
                     LOCKBOX_FAILURE_BROKEN_REPLY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_urls),
        cmocka_unit_test(test_refused_urls),
        cmocka_unit_test(test_output_too_small),
        cmocka_unit_test(test_classify_connection),
        cmocka_unit_test(test_classify_server_certificate),
        cmocka_unit_test(test_classify_own_files_and_handshake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
