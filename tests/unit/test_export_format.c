/* Unit tests of lockboxctl/export_format.c: the export file's header, withheld entries and
 * trailer round-trip through their writers, and the parsers refuse what a forged or damaged
 * file may hold (extra members, wrong types, bad hashes, trailing bytes). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "export_format.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

static int parse_header(const char *line, struct export_header *h)
{
    char err[EXPORT_ERROR_MAX];

    return export_header_parse(line, strlen(line), h, err, sizeof(err));
}

static int parse_withheld(const char *line, struct export_withheld *w)
{
    char err[EXPORT_ERROR_MAX];

    return export_withheld_parse(line, strlen(line), w, err, sizeof(err));
}

static int parse_trailer(const char *line, struct export_trailer *t)
{
    char err[EXPORT_ERROR_MAX];

    return export_trailer_parse(line, strlen(line), t, err, sizeof(err));
}

static void header_round_trips(void **state)
{
    struct export_header h = {.tenant = "contoso",
                              .server = "https://lockbox.example:8443",
                              .after_seq = 41,
                              .after_hash = HASH_A,
                              .exported_at = "2026-12-02T03:00:00Z"};
    struct export_header back;
    char line[2048];

    (void)state;
    assert_int_equal(export_header_format(&h, line, sizeof(line)), 0);
    assert_string_equal(line, "{\"lockbox_audit_export\":1,\"tenant\":\"contoso\",\"server\":"
                              "\"https://lockbox.example:8443\",\"after_seq\":41,\"after_hash\":"
                              "\"" HASH_A "\",\"exported_at\":\"2026-12-02T03:00:00Z\"}");
    assert_int_equal(export_line_kind(line, strlen(line)), EXPORT_LINE_HEADER);
    assert_int_equal(parse_header(line, &back), 0);
    assert_string_equal(back.tenant, "contoso");
    assert_string_equal(back.server, h.server);
    assert_int_equal(back.after_seq, 41);
    assert_string_equal(back.after_hash, HASH_A);
    /* Too small a buffer is an error, never a cut line. */
    assert_int_equal(export_header_format(&h, line, 40), -1);
}

static void header_refuses_forgeries(void **state)
{
    struct export_header h;
    static const char *const bad[] = {
        /* another version */
        "{\"lockbox_audit_export\":2,\"tenant\":\"contoso\",\"server\":\"s\",\"after_seq\":0,"
        "\"after_hash\":\"" ZEROS "\",\"exported_at\":\"t\"}",
        /* a tenant that is no name */
        "{\"lockbox_audit_export\":1,\"tenant\":\"con so\",\"server\":\"s\",\"after_seq\":0,"
        "\"after_hash\":\"" ZEROS "\",\"exported_at\":\"t\"}",
        /* seq 0 with a hash other than zeros: a chain start that is not one */
        "{\"lockbox_audit_export\":1,\"tenant\":\"contoso\",\"server\":\"s\",\"after_seq\":0,"
        "\"after_hash\":\"" HASH_A "\",\"exported_at\":\"t\"}",
        /* upper-case hex, a negative seq, a seq as a string */
        "{\"lockbox_audit_export\":1,\"tenant\":\"contoso\",\"server\":\"s\",\"after_seq\":3,"
        "\"after_hash\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"exported_at\":\"t\"}",
        "{\"lockbox_audit_export\":1,\"tenant\":\"contoso\",\"server\":\"s\",\"after_seq\":-3,"
        "\"after_hash\":\"" HASH_A "\",\"exported_at\":\"t\"}",
        "{\"lockbox_audit_export\":1,\"tenant\":\"contoso\",\"server\":\"s\",\"after_seq\":\"3\","
        "\"after_hash\":\"" HASH_A "\",\"exported_at\":\"t\"}",
        /* a member more, trailing bytes, not an object */
        "{\"lockbox_audit_export\":1,\"tenant\":\"contoso\",\"server\":\"s\",\"after_seq\":3,"
        "\"after_hash\":\"" HASH_A "\",\"exported_at\":\"t\",\"x\":1}",
        "{\"lockbox_audit_export\":1,\"tenant\":\"contoso\",\"server\":\"s\",\"after_seq\":3,"
        "\"after_hash\":\"" HASH_A "\",\"exported_at\":\"t\"} x",
        "[1,2,3]",
        "",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_header(bad[i], &h), -1);
}

static void withheld_round_trips_in_both_formats(void **state)
{
    struct export_withheld w2 = {.version = 2, .v2 = {7, HASH_A, HASH_B}}, w1 = {.version = 1};
    struct export_withheld back;
    char line[512];

    (void)state;
    assert_int_equal(export_withheld_format(&w2, line, sizeof(line)), 0);
    assert_string_equal(line, "{\"withheld\":7,\"tenant_tag\":\"" HASH_A
                              "\",\"content_hash\":\"" HASH_B "\"}");
    assert_int_equal(export_line_kind(line, strlen(line)), EXPORT_LINE_WITHHELD);
    assert_int_equal(parse_withheld(line, &back), 0);
    assert_int_equal(back.version, 2);
    assert_int_equal(back.v2.seq, 7);
    assert_string_equal(back.v2.tenant_tag, HASH_A);
    assert_string_equal(back.v2.content_hash, HASH_B);

    w1.v2.seq = 3;
    memcpy(w1.record_hash, HASH_B, sizeof(w1.record_hash));
    assert_int_equal(export_withheld_format(&w1, line, sizeof(line)), 0);
    assert_string_equal(line, "{\"withheld\":3,\"record_hash\":\"" HASH_B "\"}");
    assert_int_equal(parse_withheld(line, &back), 0);
    assert_int_equal(back.version, 1);
    assert_int_equal(back.v2.seq, 3);
    assert_string_equal(back.record_hash, HASH_B);
}

static void withheld_refuses_mixtures_and_extras(void **state)
{
    struct export_withheld w;
    static const char *const bad[] = {
        "{\"withheld\":0,\"record_hash\":\"" HASH_A "\"}", /* no record has seq 0 */
        "{\"withheld\":3}",
        "{\"withheld\":3,\"tenant_tag\":\"" HASH_A "\"}",
        "{\"withheld\":3,\"tenant_tag\":\"" HASH_A "\",\"record_hash\":\"" HASH_B "\"}",
        "{\"withheld\":3,\"record_hash\":\"" HASH_A "\",\"tenant\":\"contoso\"}",
        "{\"withheld\":3,\"tenant_tag\":\"" HASH_A "\",\"content_hash\":\"" HASH_B
        "\",\"line\":\"x\"}",
        "{\"withheld\":3,\"record_hash\":\"abc\"}",
        "{\"withheld\":\"3\",\"record_hash\":\"" HASH_A "\"}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse_withheld(bad[i], &w), -1);
}

static void trailer_round_trips_and_refuses(void **state)
{
    struct export_trailer t = {.head_seq = 99, .head_hash = HASH_B}, back;
    char line[256];

    (void)state;
    assert_int_equal(export_trailer_format(&t, line, sizeof(line)), 0);
    assert_string_equal(line,
                        "{\"lockbox_audit_export_end\":1,\"head_seq\":99,\"head_hash\":\"" HASH_B
                        "\"}");
    assert_int_equal(export_line_kind(line, strlen(line)), EXPORT_LINE_TRAILER);
    assert_int_equal(parse_trailer(line, &back), 0);
    assert_int_equal(back.head_seq, 99);
    assert_string_equal(back.head_hash, HASH_B);
    assert_int_equal(parse_trailer("{\"lockbox_audit_export_end\":1,\"head_seq\":99}", &back), -1);
    assert_int_equal(parse_trailer("{\"lockbox_audit_export_end\":1,\"head_seq\":99,\"head_hash\":"
                                   "\"" HASH_B "\",\"more\":true}",
                                   &back),
                     -1);
}

static void record_lines_are_neither_header_nor_entry(void **state)
{
    const char *record = "{\"v\":2,\"seq\":5,\"tenant\":\"contoso\"}";
    const char *prefix_only = "{\"withheld\"";

    (void)state;
    assert_int_equal(export_line_kind(record, strlen(record)), EXPORT_LINE_RECORD);
    assert_int_equal(export_line_kind(prefix_only, strlen(prefix_only)), EXPORT_LINE_RECORD);
}

static void kept_head_parses_seq_colon_hash(void **state)
{
    audit_hash hash;
    uint64_t seq;

    (void)state;
    assert_int_equal(export_kept_head_parse("120:" HASH_A, &seq, hash), 0);
    assert_int_equal(seq, 120);
    assert_string_equal(hash, HASH_A);
    /* Hex as a person may copy it, in capitals, is the same hash. */
    assert_int_equal(
        export_kept_head_parse("0:"
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                               &seq, hash),
        0);
    assert_string_equal(hash, HASH_A);
    assert_int_equal(seq, 0);
    assert_int_equal(export_kept_head_parse(HASH_A, &seq, hash), -1);
    assert_int_equal(export_kept_head_parse("120 " HASH_A, &seq, hash), -1);
    assert_int_equal(export_kept_head_parse("-1:" HASH_A, &seq, hash), -1);
    assert_int_equal(export_kept_head_parse("12:" HASH_A "a", &seq, hash), -1);
    assert_int_equal(export_kept_head_parse("12:zz" HASH_A, &seq, hash), -1);
    assert_int_equal(export_kept_head_parse("99999999999999999999:" HASH_A, &seq, hash), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_round_trips),
        cmocka_unit_test(header_refuses_forgeries),
        cmocka_unit_test(withheld_round_trips_in_both_formats),
        cmocka_unit_test(withheld_refuses_mixtures_and_extras),
        cmocka_unit_test(trailer_round_trips_and_refuses),
        cmocka_unit_test(record_lines_are_neither_header_nor_entry),
        cmocka_unit_test(kept_head_parses_seq_colon_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
