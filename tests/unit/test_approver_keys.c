/* Unit tests of lib/approver_keys.c: the pinned keys file's strict format (FILE:LINE errors),
 * key ids, key history with revoked-at, and lib/base64_strict.c's one spelling per value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approver_keys.h"
#include "base64_strict.h"

/* RFC 8032's first test vector's public key, and a second key (32 bytes of 0x01). */
#define KEY_A "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define KEY_B "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
/* SHA-256 of KEY_A's 32 bytes starts with these 4 (checked with openssl dgst). */
#define KEY_A_ID "21fe31df"

static struct approver_keys keys;

static int parse(const char *text, char *err, size_t err_len)
{
    return approver_keys_parse(text, strlen(text), "keys.txt", &keys, err, err_len);
}

static void expect_refused(const char *text, const char *message)
{
    char err[256] = "";

    if (parse(text, err, sizeof(err)) == 0)
        fail_msg("accepted: %s", text);
    if (strcmp(err, message) != 0)
        fail_msg("error '%s', expected '%s'", err, message);
}

static void test_parses_keys_comments_and_history(void **unused)
{
    char err[256];

    (void)unused;
    assert_int_equal(parse("# contoso approvers\n"
                           "\n"
                           "alice ed25519 " KEY_A " revoked-at 2026-12-01T00:00:00Z\n"
                           "alice ed25519 " KEY_B "\n"
                           "bob.smith-2 ed25519 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
                           err, sizeof(err)),
                     0);
    assert_int_equal(keys.n_keys, 3);
    assert_string_equal(keys.keys[0].name, "alice");
    assert_string_equal(keys.keys[0].key_id, KEY_A_ID);
    assert_int_equal(keys.keys[0].revoked_at_ms, 1796083200000LL);
    assert_int_equal(keys.keys[1].revoked_at_ms, APPROVER_KEY_NOT_REVOKED);
    assert_ptr_equal(approver_keys_find(&keys, "alice", KEY_A_ID), &keys.keys[0]);
    assert_null(approver_keys_find(&keys, "bob.smith-2", KEY_A_ID));
    assert_ptr_equal(approver_keys_find_id(&keys, KEY_A_ID), &keys.keys[0]);
    assert_true(approver_key_current_at(&keys.keys[0], 1796083199999LL));
    assert_false(approver_key_current_at(&keys.keys[0], 1796083200000LL));
    assert_true(approver_key_current_at(&keys.keys[1], INT64_MAX - 1));
}

static void test_refuses_bad_lines(void **unused)
{
    (void)unused;
    expect_refused("", "keys.txt:0: no keys in the file");
    expect_refused("# only a comment\n", "keys.txt:1: no keys in the file");
    expect_refused("alice rsa " KEY_A "\n",
                   "keys.txt:1: key type 'rsa' is not supported: approver keys are ed25519");
    expect_refused("\nalice ssh-ed25519 " KEY_A "\n",
                   "keys.txt:2: key type 'ssh-ed25519' is not supported: approver keys are "
                   "ed25519");
    expect_refused("alice  ed25519 " KEY_A "\n",
                   "keys.txt:1: expected 'NAME ed25519 KEY [revoked-at TIME]', fields "
                   "separated by one space");
    expect_refused("alice ed25519 " KEY_A " \n",
                   "keys.txt:1: expected 'NAME ed25519 KEY [revoked-at TIME]', fields "
                   "separated by one space");
    expect_refused("alice ed25519 " KEY_A "\r\n",
                   "keys.txt:1: carriage return (use LF line endings)");
    expect_refused("alice\ted25519 " KEY_A "\n",
                   "keys.txt:1: control or non-ASCII byte at column 6");
    expect_refused("-alice ed25519 " KEY_A "\n",
                   "keys.txt:1: the name must be 1-64 characters of A-Z a-z 0-9 . _ - (not "
                   "starting with -)");
    /* 31 bytes, 33 bytes (an X25519 or a truncated key is no different), and a second
     * spelling of KEY_A (non-zero bits under the padding). */
    expect_refused("alice ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==\n",
                   "keys.txt:1: the key is not the base64 of a 32-byte Ed25519 public key");
    expect_refused("alice ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n",
                   "keys.txt:1: the key is not the base64 of a 32-byte Ed25519 public key");
    expect_refused("alice ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURr=\n",
                   "keys.txt:1: the key is not the base64 of a 32-byte Ed25519 public key");
    expect_refused("alice ed25519 " KEY_A " revoked 2026-12-01T00:00:00Z\n",
                   "keys.txt:1: after the key only 'revoked-at YYYY-MM-DDTHH:MM:SSZ' may follow");
    expect_refused("alice ed25519 " KEY_A " revoked-at 2026-12-01T00:00:00.000Z\n",
                   "keys.txt:1: after the key only 'revoked-at YYYY-MM-DDTHH:MM:SSZ' may follow");
}

static void test_refuses_duplicates(void **unused)
{
    (void)unused;
    expect_refused("alice ed25519 " KEY_A "\nbob ed25519 " KEY_A "\n",
                   "keys.txt:2: this key is already pinned for alice");
    expect_refused("alice ed25519 " KEY_A "\nalice ed25519 " KEY_B "\n",
                   "keys.txt:2: alice already has a current key: give the old one 'revoked-at "
                   "TIME'");
}

static void test_key_line_round_trips(void **unused)
{
    unsigned char raw[APPROVER_KEY_RAW_LEN];
    char line[APPROVER_KEY_LINE_MAX], err[256];

    (void)unused;
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 7);
    assert_int_equal(approver_key_line("carol", raw, line), 0);
    assert_int_equal(parse(line, err, sizeof(err)), 0);
    assert_memory_equal(keys.keys[0].raw, raw, sizeof(raw));
    assert_int_equal(approver_key_line("no spaces allowed", raw, line), -1);
}

static void test_base64_one_spelling(void **unused)
{
    unsigned char out[64];
    char text[BASE64_STRICT_LEN(64) + 1];

    (void)unused;
    for (size_t n = 1; n <= 64; n++) {
        unsigned char in[64];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(255 - i);
        base64_strict_encode(in, n, text);
        assert_int_equal(strlen(text), BASE64_STRICT_LEN(n));
        assert_true(base64_strict_decode(text, strlen(text), out, n));
        assert_memory_equal(in, out, n);
        /* The encoding of n bytes is no encoding of n - 1 (the padding says how many). */
        if (n > 1)
            assert_false(base64_strict_decode(text, strlen(text), out, n - 1));
    }
    assert_false(base64_strict_decode("AAAA AAA", 8, out, 5));
    assert_false(base64_strict_decode("AA=A", 4, out, 1));
    assert_false(base64_strict_decode("AB==", 4, out, 1)); /* bits under the padding */
    assert_true(base64_strict_decode("AA==", 4, out, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_keys_comments_and_history),
        cmocka_unit_test(test_refuses_bad_lines),
        cmocka_unit_test(test_refuses_duplicates),
        cmocka_unit_test(test_key_line_round_trips),
        cmocka_unit_test(test_base64_one_spelling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
