/* Unit tests of lib/audit_chain.c: building chained audit lines and finding every kind of
 * tampering (altered, removed, inserted, reordered, truncated) on verification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_chain.h"

#define N_LINES 8
#define T0 1764072000123LL /* 2025-11-25T12:00:00.123Z */

struct chain {
    char *lines[N_LINES + 4];
    size_t n;
    char head[LOCKBOX_HASH_HEX_LEN + 1];
};

static const char *const events[] = {"request.created", "request.approved", "login.allowed",
                                     "access.revoked"};

static char *build_line(uint64_t seq, const char *prev_hash, const char *reason)
{
    struct audit_event event = {
        .event = events[seq % 4],
        .request_id = "0123456789abcdef0123456789abcdef",
        .tenant = "contoso",
        .host = "db01",
        .user = "eng1",
        .actor = seq % 2 ? "alice" : "eng1",
        .reason = reason,
        .comment = seq % 3 ? "ok" : NULL,
        .expires_at = seq % 2 ? T0 + 3600 * 1000 : 0,
    };
    char *line = NULL;

    assert_int_equal(audit_line_build(seq, 1, T0 + (int64_t)seq * 1000, &event, prev_hash, &line),
                     0);
    assert_non_null(line);
    return line;
}

/* Records first_seq.. chained to prev (the zero hash for a new chain). */
static void build_chain(struct chain *c, uint64_t first_seq, const char *prev, size_t n)
{
    char hash[LOCKBOX_HASH_HEX_LEN + 1];
    char reason[64];

    snprintf(hash, sizeof(hash), "%s", prev);
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(reason, sizeof(reason), "INC-%zu", 4700 + i);
        c->lines[i] = build_line(first_seq + i, hash, reason);
        assert_int_equal(audit_record_hash(c->lines[i], strlen(c->lines[i]), hash), 0);
    }
    memcpy(c->head, hash, sizeof(hash));
}

static void free_chain(struct chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->lines[i]);
    c->n = 0;
}

/* Verifies lines in order; returns the index of the first refused line, or -1. */
static int verify_lines(struct audit_verifier *v, char *const *lines, size_t n)
{
    char where[48];

    for (size_t i = 0; i < n; i++) {
        snprintf(where, sizeof(where), "audit.jsonl:%zu", i + 1);
        if (audit_verify_line(v, lines[i], strlen(lines[i]), where) != 0)
            return (int)i;
    }
    return -1;
}

/* Whole check as `lockboxctl audit verify` does it: every line, then the daemon's head. */
static bool chain_ok(char *const *lines, size_t n, uint64_t head_seq, const char *head_hash,
                     char *error, size_t error_len)
{
    struct audit_verifier v;

    audit_verifier_init(&v);
    bool ok = verify_lines(&v, lines, n) < 0 && audit_verify_head(&v, head_seq, head_hash) == 0;
    snprintf(error, error_len, "%s", v.error);
    return ok;
}

static void test_hash_hex(void **unused)
{
    char out[LOCKBOX_HASH_HEX_LEN + 1];

    (void)unused;
    assert_int_equal(audit_hash_hex("abc", 3, out), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(audit_hash_hex("", 0, out), 0);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* Only len bytes count. */
    assert_int_equal(audit_hash_hex("abcdef", 3, out), 0);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_line_format(void **unused)
{
    struct audit_event event = {
        .event = "request.created",
        .request_id = "0123456789abcdef0123456789abcdef",
        .tenant = "contoso",
        .host = "db01",
        .user = "eng1",
        .actor = "eng1",
        .reason = "INC-4711",
        .comment = "",
        .expires_at = 1764115200000LL,
    };
    char *line = NULL;

    (void)unused;
    assert_int_equal(audit_line_build(1, 1, T0, &event, AUDIT_ZERO_HASH, &line), 0);
    /* The nonce is random: 32 lowercase hex, just before prev_hash. */
    const char *nonce = strstr(line, ",\"nonce\":\"");
    assert_non_null(nonce);
    nonce += strlen(",\"nonce\":\"");
    assert_int_equal(strspn(nonce, "0123456789abcdef"), 32);
    char expect[1024];
    snprintf(expect, sizeof(expect),
             "{\"v\":2,\"v2_from\":1,\"seq\":1,\"time\":\"2025-11-25T12:00:00.123Z\","
             "\"event\":\"request.created\","
             "\"request_id\":\"0123456789abcdef0123456789abcdef\",\"tenant\":\"contoso\","
             "\"host\":\"db01\",\"user\":\"eng1\",\"actor\":\"eng1\",\"requester\":null,"
             "\"reason\":\"INC-4711\","
             "\"comment\":null,\"expires_at\":\"2025-11-26T00:00:00Z\","
             "\"nonce\":\"%.32s\",\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
             nonce);
    assert_string_equal(line, expect);
    /* Two lines of the same event differ by their nonce (and so do their content hashes). */
    char *again = NULL;
    assert_int_equal(audit_line_build(1, 1, T0, &event, AUDIT_ZERO_HASH, &again), 0);
    assert_string_not_equal(line, again);
    free(again);
    /* v2_from must be a record of the chain at or before this one. */
    assert_int_equal(audit_line_build(3, 0, T0, &event, AUDIT_ZERO_HASH, &again), -1);
    assert_int_equal(audit_line_build(3, 4, T0, &event, AUDIT_ZERO_HASH, &again), -1);
    free(line);

    struct audit_event sparse = {.event = "request.expired", .actor = "lockboxd"};
    assert_int_equal(audit_line_build(7, 1, T0, &sparse, AUDIT_ZERO_HASH, &line), 0);
    assert_non_null(strstr(line, "\"request_id\":null"));
    assert_non_null(strstr(line, "\"reason\":null"));
    assert_non_null(strstr(line, "\"expires_at\":null"));
    assert_null(strchr(line, '\n'));
    uint64_t seq = 0;
    char prev[LOCKBOX_HASH_HEX_LEN + 1];
    assert_int_equal(audit_line_fields(line, strlen(line), &seq, prev), 0);
    assert_int_equal(seq, 7);
    assert_string_equal(prev, AUDIT_ZERO_HASH);
    free(line);
}

static void test_valid_chain_verifies(void **unused)
{
    struct chain c;
    struct audit_verifier v;

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, c.lines, c.n), -1);
    assert_int_equal(v.records, N_LINES);
    assert_int_equal(v.seq, N_LINES);
    assert_string_equal(v.hash, c.head);
    assert_int_equal(audit_verify_head(&v, N_LINES, c.head), 0);
    /* Each line's prev_hash is the hash of the line before it. */
    for (size_t i = 1; i < c.n; i++) {
        char hash[LOCKBOX_HASH_HEX_LEN + 1], prev[LOCKBOX_HASH_HEX_LEN + 1];
        uint64_t seq;
        assert_int_equal(audit_record_hash(c.lines[i - 1], strlen(c.lines[i - 1]), hash), 0);
        assert_int_equal(audit_line_fields(c.lines[i], strlen(c.lines[i]), &seq, prev), 0);
        assert_string_equal(prev, hash);
        assert_int_equal(seq, i + 1);
    }
    free_chain(&c);
}

static void test_every_altered_byte_is_found(void **unused)
{
    struct chain c;
    char error[512];

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    for (size_t victim = 0; victim < c.n; victim++) {
        size_t len = strlen(c.lines[victim]);
        for (size_t pos = 0; pos < len; pos++) {
            c.lines[victim][pos] ^= 0x01;
            if (chain_ok(c.lines, c.n, N_LINES, c.head, error, sizeof(error)))
                fail_msg("flipping byte %zu of record %zu went unnoticed", pos, victim + 1);
            c.lines[victim][pos] ^= 0x01;
        }
    }
    assert_true(chain_ok(c.lines, c.n, N_LINES, c.head, error, sizeof(error)));
    free_chain(&c);
}

static void test_altered_record_is_named(void **unused)
{
    struct chain c;
    struct audit_verifier v;

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    char *reason = strstr(c.lines[3], "INC-4703");
    assert_non_null(reason);
    reason[7] = '9'; /* INC-4709: still valid JSON, the next record no longer chains */
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, c.lines, c.n), 4);
    assert_non_null(strstr(v.error, "audit.jsonl:5"));
    assert_non_null(strstr(v.error, "seq 4 altered"));

    /* The last record altered: only the head can tell. */
    reason[7] = '3';
    char *last = strstr(c.lines[N_LINES - 1], "INC-");
    last[4] = '9';
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, c.lines, c.n), -1);
    assert_int_equal(audit_verify_head(&v, N_LINES, c.head), -1);
    assert_non_null(strstr(v.error, "altered"));
    free_chain(&c);
}

static void test_removed_record(void **unused)
{
    struct chain c;
    struct audit_verifier v;
    char *lines[N_LINES];

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    for (size_t removed = 1; removed + 1 < N_LINES; removed++) {
        size_t n = 0;
        for (size_t i = 0; i < N_LINES; i++) {
            if (i != removed)
                lines[n++] = c.lines[i];
        }
        audit_verifier_init(&v);
        assert_int_equal(verify_lines(&v, lines, n), (int)removed);
        assert_non_null(strstr(v.error, "removed"));
        char expected[64];
        snprintf(expected, sizeof(expected), "seq %zu to %zu", removed + 1, removed + 1);
        assert_non_null(strstr(v.error, expected));
    }
    /* Two in a row. */
    lines[0] = c.lines[0], lines[1] = c.lines[1], lines[2] = c.lines[4];
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, lines, 3), 2);
    assert_non_null(strstr(v.error, "seq 3 to 4"));
    free_chain(&c);
}

static void test_inserted_record(void **unused)
{
    struct chain c;
    struct audit_verifier v;
    char *lines[N_LINES + 1];
    char hash[LOCKBOX_HASH_HEX_LEN + 1], error[512];

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    /* A forged record that chains correctly to record 3 and takes seq 4. */
    assert_int_equal(audit_record_hash(c.lines[2], strlen(c.lines[2]), hash), 0);
    char *forged = build_line(4, hash, "let me in");
    size_t n = 0;
    for (size_t i = 0; i < N_LINES; i++) {
        lines[n++] = c.lines[i];
        if (i == 2)
            lines[n++] = forged;
    }
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, lines, n), 4);
    assert_non_null(strstr(v.error, "inserted"));

    /* A forged record with the next seq but not chained. */
    char *unchained = build_line(4, AUDIT_ZERO_HASH, "let me in");
    lines[3] = unchained;
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, lines, n), 3);
    assert_non_null(strstr(v.error, "does not chain"));

    /* A duplicated record. */
    lines[3] = c.lines[2];
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, lines, n), 3);
    assert_non_null(strstr(v.error, "inserted"));

    /* A record appended after the head the daemon holds. */
    assert_int_equal(audit_record_hash(c.lines[N_LINES - 1], strlen(c.lines[N_LINES - 1]), hash),
                     0);
    char *appended = build_line(N_LINES + 1, hash, "late");
    memcpy(lines, c.lines, sizeof(c.lines[0]) * N_LINES);
    lines[N_LINES] = appended;
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, lines, N_LINES + 1), -1);
    assert_int_equal(audit_verify_head(&v, N_LINES, c.head), -1);
    assert_non_null(strstr(v.error, "inserted"));
    assert_false(chain_ok(lines, N_LINES + 1, N_LINES, c.head, error, sizeof(error)));
    free(forged);
    free(unchained);
    free(appended);
    free_chain(&c);
}

static void test_reordered_records(void **unused)
{
    struct chain c;
    char *lines[N_LINES];
    char error[512];

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    for (size_t a = 0; a < N_LINES; a++) {
        for (size_t b = a + 1; b < N_LINES; b++) {
            memcpy(lines, c.lines, sizeof(lines));
            lines[a] = c.lines[b];
            lines[b] = c.lines[a];
            if (chain_ok(lines, N_LINES, N_LINES, c.head, error, sizeof(error)))
                fail_msg("swapping records %zu and %zu went unnoticed", a + 1, b + 1);
        }
    }
    /* Adjacent swap in the middle: refused where the order first breaks. */
    struct audit_verifier v;
    memcpy(lines, c.lines, sizeof(lines));
    lines[4] = c.lines[5];
    lines[5] = c.lines[4];
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, lines, N_LINES), 4);
    assert_non_null(strstr(v.error, "audit.jsonl:5"));
    free_chain(&c);
}

static void test_bad_first_record(void **unused)
{
    struct chain c;
    struct audit_verifier v;
    char hash[LOCKBOX_HASH_HEX_LEN + 1];

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    /* seq 1 that points at something other than the zero hash. */
    assert_int_equal(audit_hash_hex("x", 1, hash), 0);
    char *bad = build_line(1, hash, "forged start");
    char *saved = c.lines[0];
    c.lines[0] = bad;
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, c.lines, c.n), 0);
    assert_non_null(strstr(v.error, "does not start the chain"));
    assert_int_equal(v.records, 0);
    assert_false(v.started);

    /* Not a record at all, or one with a broken seq or hash. */
    const char *const garbage[] = {
        "",
        "not json",
        "[]",
        "{}",
        "null",
        "{\"seq\":1}",
        "{\"seq\":0,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
        "{\"seq\":-1,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
        "{\"seq\":\"1\",\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
        "{\"seq\":1.5,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}",
        "{\"seq\":1,\"prev_hash\":\"" AUDIT_ZERO_HASH "0\"}",
        "{\"seq\":1,\"prev_hash\":"
        "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}",
        "{\"seq\":1,\"prev_hash\":"
        "\"g000000000000000000000000000000000000000000000000000000000000000\"}",
        "{\"seq\":1,\"prev_hash\":null}",
        "{\"seq\":1,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"} trailing",
        "{\"seq\":1,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}{}",
        "{\"seq\":1,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"",
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        audit_verifier_init(&v);
        if (audit_verify_line(&v, garbage[i], strlen(garbage[i]), "audit.jsonl:1") != -1)
            fail_msg("garbage first line #%zu accepted", i);
        assert_non_null(strstr(v.error, "audit.jsonl:1"));
    }
    /* The genuine first record, altered: found at the second. */
    c.lines[0] = saved;
    char *reason = strstr(c.lines[0], "INC-4700");
    reason[4] = '5';
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, c.lines, c.n), 1);
    reason[4] = '4';
    free(bad);
    free_chain(&c);
}

static void test_truncated_tail(void **unused)
{
    struct chain c;
    struct audit_verifier v;

    (void)unused;
    build_chain(&c, 1, AUDIT_ZERO_HASH, N_LINES);
    for (size_t kept = 0; kept < N_LINES; kept++) {
        audit_verifier_init(&v);
        assert_int_equal(verify_lines(&v, c.lines, kept), -1);
        assert_int_equal(audit_verify_head(&v, N_LINES, c.head), -1);
        assert_non_null(strstr(v.error, "tail removed"));
    }
    /* Right seq, wrong hash: the last record was rewritten. */
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, c.lines, c.n), -1);
    assert_int_equal(audit_verify_head(&v, N_LINES, AUDIT_ZERO_HASH), -1);
    assert_non_null(strstr(v.error, "altered"));
    /* An empty file is fine only while the daemon holds no head. */
    audit_verifier_init(&v);
    assert_int_equal(audit_verify_head(&v, 0, AUDIT_ZERO_HASH), 0);
    audit_verifier_init(&v);
    assert_int_equal(audit_verify_head(&v, 1, AUDIT_ZERO_HASH), -1);
    /* Records in the file though the daemon has none. */
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, c.lines, 2), -1);
    assert_int_equal(audit_verify_head(&v, 0, AUDIT_ZERO_HASH), -1);
    free_chain(&c);
}

static void test_chain_across_two_files(void **unused)
{
    struct chain old_file, new_file;
    struct audit_verifier v;

    (void)unused;
    build_chain(&old_file, 1, AUDIT_ZERO_HASH, 5);
    build_chain(&new_file, 6, old_file.head, 4);
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, old_file.lines, old_file.n), -1);
    assert_int_equal(verify_lines(&v, new_file.lines, new_file.n), -1);
    assert_int_equal(v.records, 9);
    assert_int_equal(audit_verify_head(&v, 9, new_file.head), 0);

    /* The new file alone (the old one deleted after rotation) still verifies to the head. */
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, new_file.lines, new_file.n), -1);
    assert_int_equal(audit_verify_head(&v, 9, new_file.head), 0);

    /* Files given newest first. */
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, new_file.lines, new_file.n), -1);
    assert_int_equal(verify_lines(&v, old_file.lines, old_file.n), 0);

    /* The new file's first record missing. */
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, old_file.lines, old_file.n), -1);
    assert_int_equal(verify_lines(&v, new_file.lines + 1, new_file.n - 1), 0);
    assert_non_null(strstr(v.error, "removed"));

    /* The old file's last record altered: the new file's first record no longer chains. */
    char *reason = strstr(old_file.lines[4], "INC-");
    reason[4] = '0';
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, old_file.lines, old_file.n), -1);
    assert_int_equal(verify_lines(&v, new_file.lines, new_file.n), 0);
    assert_non_null(strstr(v.error, "does not chain"));

    /* A new file that does not continue the old chain at all. */
    struct chain restarted;
    build_chain(&restarted, 6, AUDIT_ZERO_HASH, 2);
    reason[4] = '4';
    audit_verifier_init(&v);
    assert_int_equal(verify_lines(&v, old_file.lines, old_file.n), -1);
    assert_int_equal(verify_lines(&v, restarted.lines, restarted.n), 0);
    free_chain(&restarted);
    free_chain(&old_file);
    free_chain(&new_file);
}

static void test_control_characters_are_escaped(void **unused)
{
    char reason[80];
    size_t n = 0;
    struct audit_verifier v;

    (void)unused;
    n += (size_t)snprintf(reason, sizeof(reason), "evil\n{\"seq\":99}\r\t\"q\" \\ ");
    for (unsigned c = 1; c < 0x20; c++)
        reason[n++] = (char)c;
    reason[n] = '\0';
    char *line = build_line(1, AUDIT_ZERO_HASH, reason);
    for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
        if (*p < 0x20)
            fail_msg("raw byte 0x%02x in the audit line", *p);
    }
    assert_non_null(strstr(line, "evil\\n{\\\"seq\\\":99}\\r\\t\\\"q\\\" \\\\ "));

    /* It parses back to the very same reason, and still verifies. */
    json_object *obj = json_tokener_parse(line), *value;
    assert_non_null(obj);
    assert_true(json_object_object_get_ex(obj, "reason", &value));
    assert_string_equal(json_object_get_string(value), reason);
    assert_true(json_object_object_get_ex(obj, "seq", &value));
    assert_int_equal(json_object_get_int64(value), 1);
    json_object_put(obj);
    audit_verifier_init(&v);
    assert_int_equal(audit_verify_line(&v, line, strlen(line), "audit.jsonl:1"), 0);
    free(line);
}

static void test_line_fields_limits(void **unused)
{
    uint64_t seq;
    char prev[LOCKBOX_HASH_HEX_LEN + 1];
    size_t big = LOCKBOX_AUDIT_LINE_MAX + 100;
    char *line = malloc(big + 1);

    (void)unused;
    assert_non_null(line);
    int head = snprintf(line, big + 1, "{\"seq\":1,\"prev_hash\":\"%s\",\"reason\":\"",
                        AUDIT_ZERO_HASH);
    memset(line + head, 'r', big - (size_t)head - 2);
    memcpy(line + big - 2, "\"}", 3);
    assert_int_equal(strlen(line), big);
    assert_int_equal(audit_line_fields(line, big, &seq, prev), -1);
    /* Only len bytes are read: a shorter length cuts the object and is refused. */
    const char *good = "{\"seq\":3,\"prev_hash\":\"" AUDIT_ZERO_HASH "\"}";
    assert_int_equal(audit_line_fields(good, strlen(good), &seq, prev), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(audit_line_fields(good, strlen(good) - 1, &seq, prev), -1);
    free(line);
}

static void assert_not_canonical(const char *line)
{
    struct audit_line_info info;
    assert_int_equal(audit_line_canonical(line, strlen(line), &info), -1);
}

/* Replaces the first `from` in line with `to`; the result is malloc'd. */
static char *edited(const char *line, const char *from, const char *to)
{
    const char *at = strstr(line, from);
    assert_non_null(at);
    size_t head = (size_t)(at - line), size = strlen(line) - strlen(from) + strlen(to) + 1;
    char *out = malloc(size);
    assert_non_null(out);
    snprintf(out, size, "%.*s%s%s", (int)head, line, to, at + strlen(from));
    return out;
}

static void test_canonical_lines(void **unused)
{
    (void)unused;
    struct audit_line_info info;
    for (uint64_t seq = 1; seq <= 6; seq++) { /* with and without comment and expiry */
        char *line = build_line(seq, AUDIT_ZERO_HASH, "INC-1 \"quoted\" \x01 \xc3\xa9");
        assert_int_equal(audit_line_canonical(line, strlen(line), &info), 0);
        assert_int_equal(info.seq, seq);
        assert_int_equal(info.time_ms, T0 + (int64_t)seq * 1000);
        assert_string_equal(info.event, events[seq % 4]);
        assert_string_equal(info.tenant, "contoso");
        assert_string_equal(info.prev_hash, AUDIT_ZERO_HASH);
        free(line);
    }
}

static void test_hand_edited_lines_are_not_canonical(void **unused)
{
    (void)unused;
    char *line = build_line(2, AUDIT_ZERO_HASH, "INC-1");
    const char *edits[][2] = {
        {"\"seq\":2,", "\"seq\": 2,"},                            /* spacing */
        {"\"seq\":2,\"time\"", "\"seq\":2,\"extra\":1,\"time\""}, /* an extra field */
        {".123Z", "Z"},                                           /* time without milliseconds */
        {"\"tenant\"", "\"tenant \""},                            /* an unknown key */
        {"INC-1", "INC\\u002d1"}, /* escaped where we do not escape */
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char *bad = edited(line, edits[i][0], edits[i][1]);
        assert_not_canonical(bad);
        free(bad);
    }
    struct audit_line_info info;
    assert_int_equal(audit_line_canonical(line, strlen(line) - 1, &info), -1); /* cut short */
    assert_not_canonical("{\"seq\":1}");
    assert_not_canonical("not json");
    free(line);
}

/* The hidden characters of lib/text.h, as UTF-8, and as the JSON escape the file must hold. */
static const char *const hidden[][2] = {
    {"\xc2\xad", "\\u00ad"},     {"\xd8\x9c", "\\u061c"},     {"\xe2\x80\x8b", "\\u200b"},
    {"\xe2\x80\x8c", "\\u200c"}, {"\xe2\x80\x8d", "\\u200d"}, {"\xe2\x80\x8e", "\\u200e"},
    {"\xe2\x80\x8f", "\\u200f"}, {"\xe2\x80\xa8", "\\u2028"}, {"\xe2\x80\xa9", "\\u2029"},
    {"\xe2\x80\xaa", "\\u202a"}, {"\xe2\x80\xab", "\\u202b"}, {"\xe2\x80\xac", "\\u202c"},
    {"\xe2\x80\xad", "\\u202d"}, {"\xe2\x80\xae", "\\u202e"}, {"\xe2\x81\xa0", "\\u2060"},
    {"\xe2\x81\xa6", "\\u2066"}, {"\xe2\x81\xa7", "\\u2067"}, {"\xe2\x81\xa8", "\\u2068"},
    {"\xe2\x81\xa9", "\\u2069"}, {"\xef\xbb\xbf", "\\ufeff"},
};
#define N_HIDDEN (sizeof(hidden) / sizeof(hidden[0]))

/* A reason holding every hidden character between words: "w0 <c0> w1 <c1> ...". */
static char *hidden_reason(void)
{
    char *reason = calloc(1, 512);
    size_t n = 0;

    assert_non_null(reason);
    for (size_t i = 0; i < N_HIDDEN; i++)
        n += (size_t)snprintf(reason + n, 512 - n, "w%zu %s ", i, hidden[i][0]);
    return reason;
}

static void test_hidden_characters_are_escaped(void **unused)
{
    struct audit_verifier v;
    struct audit_line_info info;
    char *reason = hidden_reason();

    (void)unused;
    char *line = build_line(1, AUDIT_ZERO_HASH, reason);
    for (size_t i = 0; i < N_HIDDEN; i++) {
        if (strstr(line, hidden[i][0]) != NULL)
            fail_msg("hidden character %s raw in the audit line", hidden[i][1]);
        assert_non_null(strstr(line, hidden[i][1]));
    }
    /* It parses back to the very same reason, is what the daemon writes, and verifies. */
    json_object *obj = json_tokener_parse(line), *value;
    assert_non_null(obj);
    assert_true(json_object_object_get_ex(obj, "reason", &value));
    assert_string_equal(json_object_get_string(value), reason);
    json_object_put(obj);
    assert_int_equal(audit_line_canonical(line, strlen(line), &info), 0);
    audit_verifier_init(&v);
    assert_int_equal(audit_verify_line(&v, line, strlen(line), "audit.jsonl:1"), 0);
    free(line);
    free(reason);
}

/* Replaces every `from` in line with `to`; the result is malloc'd. */
static char *replaced(const char *line, const char *from, const char *to)
{
    char *out = strdup(line);

    assert_non_null(out);
    for (char *at = strstr(out, from); at != NULL; at = strstr(out, from)) {
        size_t head = (size_t)(at - out), size = strlen(out) - strlen(from) + strlen(to) + 1;
        char *next = malloc(size);
        assert_non_null(next);
        snprintf(next, size, "%.*s%s%s", (int)head, out, to, at + strlen(from));
        free(out);
        out = next;
    }
    return out;
}

static void test_lines_from_before_step11_are_canonical(void **unused)
{
    struct audit_line_info info;
    char *reason = hidden_reason();

    (void)unused;
    char *line = build_line(3, AUDIT_ZERO_HASH, reason);
    /* Before Step 11 the builder wrote hidden characters raw: such a line is still ours. */
    char *raw = strdup(line);
    for (size_t i = 0; i < N_HIDDEN; i++) {
        char *next = replaced(raw, hidden[i][1], hidden[i][0]);
        free(raw);
        raw = next;
    }
    assert_int_equal(audit_line_canonical(raw, strlen(raw), &info), 0);
    assert_int_equal(info.seq, 3);
    /* Half raw, half escaped, or escaped in upper case: nobody wrote that. */
    char *mixed = replaced(line, hidden[13][1], hidden[13][0]);
    assert_not_canonical(mixed);
    char *upper = replaced(line, "\\u202e", "\\u202E");
    assert_not_canonical(upper);
    free(upper);
    free(mixed);
    free(raw);
    free(line);
    free(reason);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_hex),
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_valid_chain_verifies),
        cmocka_unit_test(test_every_altered_byte_is_found),
        cmocka_unit_test(test_altered_record_is_named),
        cmocka_unit_test(test_removed_record),
        cmocka_unit_test(test_inserted_record),
        cmocka_unit_test(test_reordered_records),
        cmocka_unit_test(test_bad_first_record),
        cmocka_unit_test(test_truncated_tail),
        cmocka_unit_test(test_chain_across_two_files),
        cmocka_unit_test(test_control_characters_are_escaped),
        cmocka_unit_test(test_line_fields_limits),
        cmocka_unit_test(test_canonical_lines),
        cmocka_unit_test(test_hand_edited_lines_are_not_canonical),
        cmocka_unit_test(test_hidden_characters_are_escaped),
        cmocka_unit_test(test_lines_from_before_step11_are_canonical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
