/* Unit tests of lib/text.c: UTF-8 validation, clean text, names and hosts, and the escaping
 * for syslog, terminals and JSON (no raw control byte or hidden character may ever come out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockbox_limits.h"
#include "text.h"

#define GUARD 0x5a

/* --- an independent UTF-8 reference: the well-formed byte sequences of Unicode table 3-7 --- */

static size_t reference_sequence(const unsigned char *s, size_t len)
{
    struct range {
        unsigned char lo, hi;
    };
    static const struct {
        unsigned char lead_lo, lead_hi;
        size_t n;
        struct range second;
    } forms[] = {
        {0xc2, 0xdf, 2, {0x80, 0xbf}}, {0xe0, 0xe0, 3, {0xa0, 0xbf}}, {0xe1, 0xec, 3, {0x80, 0xbf}},
        {0xed, 0xed, 3, {0x80, 0x9f}}, {0xee, 0xef, 3, {0x80, 0xbf}}, {0xf0, 0xf0, 4, {0x90, 0xbf}},
        {0xf1, 0xf3, 4, {0x80, 0xbf}}, {0xf4, 0xf4, 4, {0x80, 0x8f}},
    };
    if (s[0] < 0x80)
        return 1;
    for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
        if (s[0] < forms[f].lead_lo || s[0] > forms[f].lead_hi)
            continue;
        if (len < forms[f].n || s[1] < forms[f].second.lo || s[1] > forms[f].second.hi)
            return 0;
        for (size_t i = 2; i < forms[f].n; i++) {
            if (s[i] < 0x80 || s[i] > 0xbf)
                return 0;
        }
        return forms[f].n;
    }
    return 0;
}

static bool reference_is_utf8(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = reference_sequence(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static void test_utf8_valid(void **unused)
{
    static const char *const valid[] = {
        "",
        "abc",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf",
        "\xed\x9f\xbf",
        "\xee\x80\x80",
        "\xef\xbf\xbf",
        "\xc2\x80",
        "\xdf\xbf",
        "\xe0\xa0\x80",
        "\xf0\x90\x80\x80",
        "caf\xc3\xa9 \xe2\x82\xac 5",
    };
    (void)unused;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
        assert_true(text_is_utf8(valid[i], strlen(valid[i])));
    assert_true(text_is_utf8("a\0b", 3)); /* U+0000 is well-formed; other checks refuse it */
    assert_true(text_is_utf8(NULL, 0));
}

static void test_utf8_invalid(void **unused)
{
    static const char *const invalid[] = {
        /* overlongs */
        "\xc0\x80",
        "\xc0\xaf",
        "\xc1\xbf",
        "\xe0\x80\x80",
        "\xe0\x9f\xbf",
        "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf",
        "\xf8\x88\x80\x80\x80",
        /* UTF-16 surrogates */
        "\xed\xa0\x80",
        "\xed\xbf\xbf",
        "\xed\xad\xbf\xed\xb0\x80",
        /* beyond U+10FFFF */
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xf7\xbf\xbf\xbf",
        "\xfe",
        "\xff",
        /* truncated or broken sequences */
        "\xc3",
        "\xe2\x82",
        "\xf0\x9f\x98",
        "\x80",
        "\xbf",
        "\xc3\x41",
        "\xe2\x41\xac",
        "\xe2\x82\x41",
        "\xf0\x9f\x98\x41",
        "abc\xc3",
        "\xc3\xa9\xa9",
    };
    (void)unused;
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        if (text_is_utf8(invalid[i], strlen(invalid[i])))
            fail_msg("invalid UTF-8 #%zu accepted", i);
    }
    /* A valid sequence cut short by the length. */
    assert_false(text_is_utf8("\xc3\xa9", 1));
    assert_false(text_is_utf8("\xf0\x9f\x98\x80", 3));
}

static void test_utf8_matches_reference_exhaustively(void **unused)
{
    unsigned char s[4];

    (void)unused;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        assert_int_equal(text_is_utf8((char *)s, 1), reference_is_utf8(s, 1));
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            if (text_is_utf8((char *)s, 2) != reference_is_utf8(s, 2))
                fail_msg("%02x %02x disagrees", a, b);
        }
    }
    for (unsigned a = 0xc0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            for (unsigned c = 0; c < 256; c++) {
                s[0] = (unsigned char)a, s[1] = (unsigned char)b, s[2] = (unsigned char)c;
                if (text_is_utf8((char *)s, 3) != reference_is_utf8(s, 3))
                    fail_msg("%02x %02x %02x disagrees", a, b, c);
            }
        }
    }
    for (unsigned a = 0xef; a < 256; a++) {
        for (unsigned b = 0x70; b < 0xd0; b++) {
            for (unsigned c = 0x70; c < 0xd0; c += 3) {
                for (unsigned d = 0; d < 256; d++) {
                    s[0] = (unsigned char)a, s[1] = (unsigned char)b;
                    s[2] = (unsigned char)c, s[3] = (unsigned char)d;
                    if (text_is_utf8((char *)s, 4) != reference_is_utf8(s, 4))
                        fail_msg("%02x %02x %02x %02x disagrees", a, b, c, d);
                }
            }
        }
    }
}

/* --- an independent list of the hidden characters (text.h) --- */

/* Those that reorder text or break lines, which free text may not hold. */
static const uint32_t reordering[] = {
    0x2028, 0x2029,                         /* line and paragraph separators */
    0x202a, 0x202b, 0x202c, 0x202d, 0x202e, /* LRE RLE PDF LRO RLO */
    0x2066, 0x2067, 0x2068, 0x2069,         /* LRI RLI FSI PDI */
    0x206a, 0x206b, 0x206c, 0x206d, 0x206e, 0x206f,
};
/* Those that only hide themselves. */
static const uint32_t invisible[] = {
    0x00ad,                                                 /* soft hyphen */
    0x061c,                                                 /* Arabic letter mark */
    0x200b, 0x200c, 0x200d, 0x200e, 0x200f,                 /* ZWSP ZWNJ ZWJ LRM RLM */
    0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2065, 0xfeff, /* ZWNBSP, byte order mark */
};
#define N_REORDERING (sizeof(reordering) / sizeof(reordering[0]))
#define N_INVISIBLE (sizeof(invisible) / sizeof(invisible[0]))
#define N_HIDDEN (N_REORDERING + N_INVISIBLE)

static uint32_t hidden_at(size_t i)
{
    return i < N_REORDERING ? reordering[i] : invisible[i - N_REORDERING];
}

static bool reference_is_hidden(uint32_t cp)
{
    for (size_t i = 0; i < N_HIDDEN; i++) {
        if (hidden_at(i) == cp)
            return true;
    }
    return false;
}

/* UTF-8 of a BMP code point into out (4 bytes); returns out. */
static char *encode(uint32_t cp, char out[4])
{
    memset(out, 0, 4);
    if (cp < 0x80) {
        out[0] = (char)cp;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
    }
    return out;
}

/* Does s hold any hidden character raw? (Found by its bytes, not by text.c's decoder.) */
static bool holds_hidden(const char *s)
{
    char bytes[4];

    for (size_t i = 0; i < N_HIDDEN; i++) {
        if (strstr(s, encode(hidden_at(i), bytes)) != NULL)
            return true;
    }
    return false;
}

static void test_hidden_table(void **unused)
{
    (void)unused;
    /* Every code point: exactly the listed ones are hidden. */
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (text_is_hidden(cp) != reference_is_hidden(cp))
            fail_msg("U+%04X: text_is_hidden says %d", (unsigned)cp, text_is_hidden(cp));
    }
    /* The neighbours of each range are ordinary characters. */
    static const uint32_t ordinary[] = {0x00ac, 0x00ae, 0x061b, 0x061d, 0x200a, 0x2010,
                                        0x2027, 0x202f, 0x205f, 0x2070, 0xfefe, 0xff00,
                                        'a',    0xe9,   0x05d0, 0x0627, 0x1f600};
    for (size_t i = 0; i < sizeof(ordinary) / sizeof(ordinary[0]); i++)
        assert_false(text_is_hidden(ordinary[i]));
}

static void test_hidden_refused_in_names_and_hosts(void **unused)
{
    char bytes[4], s[32];

    (void)unused;
    for (size_t i = 0; i < N_HIDDEN; i++) {
        encode(hidden_at(i), bytes);
        /* Alone, first, inside, last. */
        const char *const around[][2] = {{"", ""},
                                         {"", "eng1"},
                                         {"eng", "1"},
                                         {"eng1", ""},
                                         {"db01.", "example.com"}};
        for (size_t f = 0; f < sizeof(around) / sizeof(around[0]); f++) {
            snprintf(s, sizeof(s), "%s%s%s", around[f][0], bytes, around[f][1]);
            if (text_is_name(s, LOCKBOX_NAME_MAX) || text_is_host(s, LOCKBOX_RHOST_MAX))
                fail_msg("U+%04X accepted in a name or host (form %zu)", (unsigned)hidden_at(i), f);
        }
    }
}

static void test_clean_text_and_hidden_characters(void **unused)
{
    char bytes[4], s[32];

    (void)unused;
    for (size_t i = 0; i < N_REORDERING; i++) {
        snprintf(s, sizeof(s), "INC-4711 %s restore", encode(reordering[i], bytes));
        if (text_is_clean(s, LOCKBOX_TEXT_MAX))
            fail_msg("U+%04X (reorders or breaks lines) accepted in free text",
                     (unsigned)reordering[i]);
        assert_false(text_is_clean(bytes, LOCKBOX_TEXT_MAX));
    }
    for (size_t i = 0; i < N_INVISIBLE; i++) {
        snprintf(s, sizeof(s), "INC-4711 %s restore", encode(invisible[i], bytes));
        if (!text_is_clean(s, LOCKBOX_TEXT_MAX))
            fail_msg("U+%04X refused in free text", (unsigned)invisible[i]);
    }
    /* Real text that holds them. */
    assert_true(
        text_is_clean("\xd9\x85\xdb\x8c\xe2\x80\x8c\xd8\xae\xd9\x88\xd8\xa7\xd9\x87\xd9\x85",
                      LOCKBOX_TEXT_MAX)); /* Persian, with ZWNJ */
    assert_true(text_is_clean("\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb on call",
                              LOCKBOX_TEXT_MAX));                         /* emoji joined by ZWJ */
    assert_true(text_is_clean("re\xc2\xadstore db01", LOCKBOX_TEXT_MAX)); /* soft hyphen */
    assert_true(text_is_clean("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d (INC-4711)\xe2\x80\x8f",
                              LOCKBOX_TEXT_MAX)); /* Hebrew, RLM after the bracket */
    /* Trojan Source: "INC-4711" shown, "1174-CNI ... " stored. */
    assert_false(text_is_clean("INC-\xe2\x80\xae"
                               "1174\xe2\x80\xac",
                               LOCKBOX_TEXT_MAX));
    assert_false(text_is_clean("ok\xe2\x81\xa6 hidden \xe2\x81\xa9", LOCKBOX_TEXT_MAX));
}

/* --- clean text, names, hosts --- */

static void test_clean_text(void **unused)
{
    static const char *const refused[] = {
        "",
        "a\tb",
        "a\nb",
        "a\rb",
        "\x1b[31mred",
        "a\x7f",
        "\x01",
        "\x1f",
        "a\xc2\x80",
        "a\xc2\x9b"
        "2J",
        "a\xc2\x9f",
        "caf\xe9",
        "\xed\xa0\x80",
        "\xc0\xaf",
        "\xf4\x90\x80\x80",
        "ok\xe2\x82",
    };
    (void)unused;
    assert_true(text_is_clean("INC-4711 restore db01 (ticket #9)", LOCKBOX_TEXT_MAX));
    assert_true(text_is_clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", LOCKBOX_TEXT_MAX));
    assert_true(text_is_clean("\xc2\xa0nbsp", LOCKBOX_TEXT_MAX)); /* U+00A0: first after C1 */
    assert_true(text_is_clean("\"quotes\" and \\ and = are fine", LOCKBOX_TEXT_MAX));
    assert_true(text_is_clean("~", 1));
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (text_is_clean(refused[i], LOCKBOX_TEXT_MAX))
            fail_msg("unclean text #%zu accepted", i);
    }
    assert_false(text_is_clean(NULL, LOCKBOX_TEXT_MAX));
    /* Every C0 byte, DEL and every C1 code point is refused, alone or inside text. */
    for (unsigned c = 1; c < 0x20; c++) {
        char s[4] = {'x', (char)c, 'y', 0};
        assert_false(text_is_clean(s, 16));
    }
    for (unsigned c = 0x80; c <= 0x9f; c++) {
        char s[4] = {(char)0xc2, (char)c, 0, 0};
        assert_false(text_is_clean(s, 16));
    }
    assert_false(text_is_clean("\x7f", 16));
}

static void test_clean_text_length_bounds(void **unused)
{
    char *s = malloc(LOCKBOX_TEXT_MAX + 2);
    (void)unused;

    assert_non_null(s);
    memset(s, 'r', LOCKBOX_TEXT_MAX + 1);
    s[LOCKBOX_TEXT_MAX] = '\0';
    assert_true(text_is_clean(s, LOCKBOX_TEXT_MAX));
    s[LOCKBOX_TEXT_MAX] = 'r';
    s[LOCKBOX_TEXT_MAX + 1] = '\0';
    assert_false(text_is_clean(s, LOCKBOX_TEXT_MAX));
    free(s);
    /* A multi-byte character that crosses the bound is refused, not cut. */
    assert_true(text_is_clean("a\xc3\xa9", 3));
    assert_false(text_is_clean("a\xc3\xa9", 2));
    assert_false(text_is_clean("ab", 1));
    assert_false(text_is_clean("a", 0));
    /* The bound is honoured without reading past it: no NUL within max+1 bytes is fine. */
    char unterminated[3] = {'a', 'b', 'c'};
    assert_false(text_is_clean(unterminated, 2));
}

static void test_names(void **unused)
{
    static const char *const good[] = {"eng1",    "alice", "a",    "contoso", "Svc_01",
                                       "a.b-c_d", "1234",  "sshd", "x-"};
    static const char *const bad[] = {"",     "-eng1", "-",           "a b",  "a/b",  "a@b",
                                      "a:b",  "a%b",   "caf\xc3\xa9", "a\nb", "a\tb", "a\x7f",
                                      "a\"b", "a=b",   "a\\b",        "a;b",  "a$b",  "a\xff"};
    (void)unused;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(text_is_name(good[i], LOCKBOX_NAME_MAX));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (text_is_name(bad[i], LOCKBOX_NAME_MAX))
            fail_msg("bad name #%zu accepted", i);
    }
    assert_false(text_is_name(NULL, LOCKBOX_NAME_MAX));
    char name[LOCKBOX_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[LOCKBOX_NAME_MAX] = '\0';
    assert_true(text_is_name(name, LOCKBOX_NAME_MAX));
    name[LOCKBOX_NAME_MAX] = 'n';
    name[LOCKBOX_NAME_MAX + 1] = '\0';
    assert_false(text_is_name(name, LOCKBOX_NAME_MAX));
    /* Every byte outside [A-Za-z0-9._-] is refused. */
    for (unsigned c = 1; c < 256; c++) {
        char s[3] = {'a', (char)c, 0};
        bool expected = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        assert_int_equal(text_is_name(s, LOCKBOX_NAME_MAX), expected);
    }
}

static void test_hosts(void **unused)
{
    static const char *const good[] = {"db01",         "db01.example.com", "127.0.0.1", "::1",
                                       "fe80::1%eth0", "2001:db8::42",     "host_1-a"};
    static const char *const bad[] = {"",       "-db01",   "db 01",     "db/01", "[::1]",
                                      "db01\n", "db01;rm", "d\xc3\xa9", "db@01", "db01\x1b"};
    (void)unused;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(text_is_host(good[i], LOCKBOX_RHOST_MAX));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (text_is_host(bad[i], LOCKBOX_RHOST_MAX))
            fail_msg("bad host #%zu accepted", i);
    }
    assert_false(text_is_host(NULL, LOCKBOX_HOST_MAX));
    char host[LOCKBOX_HOST_MAX + 2];
    memset(host, 'h', sizeof(host));
    host[LOCKBOX_HOST_MAX] = '\0';
    assert_true(text_is_host(host, LOCKBOX_HOST_MAX));
    host[LOCKBOX_HOST_MAX] = 'h';
    host[LOCKBOX_HOST_MAX + 1] = '\0';
    assert_false(text_is_host(host, LOCKBOX_HOST_MAX));
    assert_false(text_is_name("fe80::1%eth0", LOCKBOX_NAME_MAX));
}

/* --- escaping --- */

static void assert_no_raw_control(const char *out)
{
    for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fail_msg("raw byte 0x%02x in output \"%s\"", *p, out);
    }
    if (holds_hidden(out))
        fail_msg("a raw hidden character in output \"%s\"", out);
}

/* Undoes the escaping (\\, \", \xNN, \uXXXX); -1 if a backslash starts no complete escape. */
static int unescape(const char *in, size_t len, char *out, size_t *out_len)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (in[i] != '\\') {
            out[o++] = in[i];
            continue;
        }
        if (i + 1 < len && (in[i + 1] == '\\' || in[i + 1] == '"')) {
            out[o++] = in[++i];
        } else if (i + 5 < len && in[i + 1] == 'u') {
            unsigned value;
            char hex[5] = {in[i + 2], in[i + 3], in[i + 4], in[i + 5], 0}, bytes[4];
            if (sscanf(hex, "%4x", &value) != 1 || !reference_is_hidden(value))
                return -1;
            encode(value, bytes);
            memcpy(out + o, bytes, strlen(bytes));
            o += strlen(bytes);
            i += 5;
        } else if (i + 3 < len && in[i + 1] == 'x') {
            unsigned value;
            char hex[3] = {in[i + 2], in[i + 3], 0};
            if (sscanf(hex, "%2x", &value) != 1)
                return -1;
            out[o++] = (char)value;
            i += 3;
        } else {
            return -1;
        }
    }
    *out_len = o;
    return 0;
}

static void expect_log(const char *in, const char *expected)
{
    char out[256];

    assert_ptr_equal(text_escape_log(in, out, sizeof(out)), out);
    if (strcmp(out, expected) != 0)
        fail_msg("log escape gave [%s], expected [%s]", out, expected);
    assert_no_raw_control(out);
}

static void expect_terminal(const char *in, const char *expected)
{
    char out[256];

    assert_ptr_equal(text_escape_terminal(in, out, sizeof(out)), out);
    if (strcmp(out, expected) != 0)
        fail_msg("terminal escape gave [%s], expected [%s]", out, expected);
    assert_no_raw_control(out);
}

static void test_escape_log_values(void **unused)
{
    (void)unused;
    expect_log("eng1", "eng1");
    expect_log("db01.example.com", "db01.example.com");
    expect_log("a/b:c,d@e", "a/b:c,d@e");
    expect_log("", "\"\"");
    expect_log(NULL, "\"\"");
    expect_log("hello world", "\"hello world\"");
    expect_log("eng1 actor=root", "\"eng1 actor=root\"");
    expect_log("say \"hi\"", "\"say \\\"hi\\\"\"");
    expect_log("a=b", "\"a=b\"");
    expect_log("a\\b", "\"a\\\\b\"");
    expect_log("a\nb", "\"a\\x0ab\"");
    expect_log("x\r\nevent=login.allowed", "\"x\\x0d\\x0aevent=login.allowed\"");
    expect_log("\x1b[31mred", "\"\\x1b[31mred\"");
    expect_log("a\x7f", "\"a\\x7f\"");
    expect_log("a\tb", "\"a\\x09b\"");
    expect_log("\xc2\x9b"
               "2J",
               "\"\\xc2\\x9b2J\"");
    expect_log("\xc2\x85", "\"\\xc2\\x85\"");
    expect_log("bad\xff", "\"bad\\xff\"");
    expect_log("\xc0\xaf", "\"\\xc0\\xaf\"");
    expect_log("\xed\xa0\x80", "\"\\xed\\xa0\\x80\"");
    expect_log("cut\xe2\x82", "\"cut\\xe2\\x82\"");
    expect_log("caf\xc3\xa9", "\"caf\xc3\xa9\"");
    expect_log("\xe2\x82\xac"
               "5",
               "\"\xe2\x82\xac"
               "5\"");
}

static void test_escape_terminal_values(void **unused)
{
    (void)unused;
    expect_terminal("plain", "plain");
    expect_terminal("", "");
    expect_terminal(NULL, "");
    expect_terminal("a b=c", "a b=c");
    expect_terminal("say \"hi\"", "say \"hi\"");
    expect_terminal("a\\b", "a\\\\b");
    expect_terminal("\x1b]0;owned\x07", "\\x1b]0;owned\\x07");
    expect_terminal("line\nnext", "line\\x0anext");
    expect_terminal("a\tb\r", "a\\x09b\\x0d");
    expect_terminal("\x7f", "\\x7f");
    expect_terminal("\xc2\x9b"
                    "31m",
                    "\\xc2\\x9b31m");
    expect_terminal("caf\xc3\xa9", "caf\xc3\xa9");
    expect_terminal("\xff\xfe", "\\xff\\xfe");
    expect_terminal("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
}

static void test_escape_hidden_characters(void **unused)
{
    char bytes[4], in[32], expected[64], out[64];

    (void)unused;
    expect_log("INC-\xe2\x80\xae"
               "1174\xe2\x80\xac",
               "\"INC-\\u202e1174\\u202c\"");
    expect_terminal("INC-\xe2\x80\xae"
                    "1174\xe2\x80\xac",
                    "INC-\\u202e1174\\u202c");
    expect_log("re\xc2\xadstore", "\"re\\u00adstore\"");
    expect_terminal("\xef\xbb\xbf"
                    "eng1",
                    "\\ufeffeng1");
    expect_terminal("a\xe2\x80\xa8"
                    "b\xe2\x80\xa9"
                    "c",
                    "a\\u2028b\\u2029c");
    /* A backslash before one stays distinguishable from the escape. */
    expect_terminal("\\\xe2\x80\x8b", "\\\\\\u200b");
    /* Ordinary neighbours are not escaped. */
    expect_terminal("\xe2\x80\x90\xe2\x80\xaf\xd8\x9b", "\xe2\x80\x90\xe2\x80\xaf\xd8\x9b");
    for (size_t i = 0; i < N_HIDDEN; i++) {
        snprintf(in, sizeof(in), "a%sb", encode(hidden_at(i), bytes));
        snprintf(expected, sizeof(expected), "\"a\\u%04xb\"", (unsigned)hidden_at(i));
        expect_log(in, expected);
        snprintf(expected, sizeof(expected), "a\\u%04xb", (unsigned)hidden_at(i));
        expect_terminal(in, expected);
        /* Never cut inside an escape: "a" then "..." when the whole does not fit. */
        text_escape_terminal(in, out, 8);
        assert_string_equal(out, "a...");
    }
}

static void test_escape_json_hidden(void **unused)
{
    char bytes[4], in[64], expected[64];

    (void)unused;
    char *out = text_escape_json_hidden("{\"reason\":\"INC-\xe2\x80\xae"
                                        "1174\"}");
    assert_string_equal(out, "{\"reason\":\"INC-\\u202e1174\"}");
    free(out);
    /* Everything else stays as it was: other UTF-8, escapes, invalid bytes. */
    const char *const untouched[] = {"", "{}", "{\"a\":\"caf\xc3\xa9 \\u00e9 \\\\ \\\"\"}",
                                     "[\"\xff\xfe\", \"\xe2\x80\"]", "{\"x\":\"\xe2\x80\x90\"}"};
    for (size_t i = 0; i < sizeof(untouched) / sizeof(untouched[0]); i++) {
        out = text_escape_json_hidden(untouched[i]);
        assert_string_equal(out, untouched[i]);
        free(out);
    }
    /* After an escaped backslash the escape still starts a new escape. */
    out = text_escape_json_hidden("[\"x\\\\\xe2\x80\x8b\"]");
    assert_string_equal(out, "[\"x\\\\\\u200b\"]");
    free(out);
    for (size_t i = 0; i < N_HIDDEN; i++) {
        snprintf(in, sizeof(in), "a%sb", encode(hidden_at(i), bytes));
        json_object *original = json_object_new_string(in);
        const char *raw = json_object_to_json_string_ext(original, JSON_C_TO_STRING_PLAIN);
        out = text_escape_json_hidden(raw);
        snprintf(expected, sizeof(expected), "\"a\\u%04xb\"", (unsigned)hidden_at(i));
        assert_string_equal(out, expected);
        assert_no_raw_control(out);
        /* A parser reads back exactly the original text. */
        json_object *back = json_tokener_parse(out);
        assert_non_null(back);
        assert_string_equal(json_object_get_string(back), in);
        json_object_put(back);
        json_object_put(original);
        free(out);
    }
}

static bool is_plain_byte(unsigned c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

static void test_escape_every_single_byte(void **unused)
{
    char in[2] = {0, 0}, out[32], expected[32];

    (void)unused;
    for (unsigned c = 1; c < 256; c++) {
        in[0] = (char)c;
        text_escape_log(in, out, sizeof(out));
        assert_no_raw_control(out);
        if (is_plain_byte(c))
            snprintf(expected, sizeof(expected), "%c", c);
        else if (c == '"' || c == '\\')
            snprintf(expected, sizeof(expected), "\"\\%c\"", c);
        else if (c >= 0x20 && c < 0x7f)
            snprintf(expected, sizeof(expected), "\"%c\"", c);
        else
            snprintf(expected, sizeof(expected), "\"\\x%02x\"", c);
        assert_string_equal(out, expected);

        text_escape_terminal(in, out, sizeof(out));
        assert_no_raw_control(out);
        if (c == '\\')
            snprintf(expected, sizeof(expected), "\\\\");
        else if (c >= 0x20 && c < 0x7f)
            snprintf(expected, sizeof(expected), "%c", c);
        else
            snprintf(expected, sizeof(expected), "\\x%02x", c);
        assert_string_equal(out, expected);
    }
}

static void test_escape_every_byte_pair(void **unused)
{
    char in[3] = {0, 0, 0}, out[32], back[32];
    size_t back_len;

    (void)unused;
    for (unsigned a = 1; a < 256; a++) {
        for (unsigned b = 1; b < 256; b++) {
            in[0] = (char)a, in[1] = (char)b;
            text_escape_log(in, out, sizeof(out));
            assert_no_raw_control(out);
            assert_true(text_is_utf8(out, strlen(out)));
            size_t n = strlen(out);
            if (out[0] == '"') {
                assert_true(n >= 2 && out[n - 1] == '"');
                assert_int_equal(unescape(out + 1, n - 2, back, &back_len), 0);
            } else {
                assert_int_equal(unescape(out, n, back, &back_len), 0);
            }
            assert_int_equal(back_len, 2);
            assert_memory_equal(back, in, 2);

            text_escape_terminal(in, out, sizeof(out));
            assert_no_raw_control(out);
            assert_true(text_is_utf8(out, strlen(out)));
            assert_int_equal(unescape(out, strlen(out), back, &back_len), 0);
            /* The terminal form leaves quotes bare, which unescape reads back as themselves. */
            assert_int_equal(back_len, 2);
            assert_memory_equal(back, in, 2);
        }
    }
}

/* Checks one escaped output: bounded, terminated, no raw controls, balanced quotes, and its
 * content (before any "...") unescapes to a prefix of the input (or all of it). */
static void check_escaped(const char *in, const char *buf, size_t out_len, bool log)
{
    size_t n = strnlen(buf, out_len);
    char back[1024];
    size_t back_len;

    assert_true(n < out_len);
    assert_no_raw_control(buf);
    assert_true(text_is_utf8(buf, n));
    const char *body = buf;
    size_t body_len = n;
    bool quoted = log && n > 0 && buf[0] == '"';
    if (quoted) {
        assert_true(n >= 2);
        assert_int_equal(buf[n - 1], '"');
        body++;
        body_len -= 2;
    }
    bool truncated = body_len >= 3 && memcmp(body + body_len - 3, "...", 3) == 0 &&
                     (strlen(in) < 3 || memcmp(in + strlen(in) - 3, "...", 3) != 0);
    if (truncated)
        body_len -= 3;
    assert_int_equal(unescape(body, body_len, back, &back_len), 0);
    assert_true(back_len <= strlen(in));
    assert_memory_equal(back, in, back_len);
    /* Once "..." fits (6 bytes quoted, 4 bare), nothing is lost without the mark. */
    if (!truncated && out_len >= (quoted ? 6u : 4u) && back_len != strlen(in))
        fail_msg("[%s] lost bytes without a \"...\" mark", buf);
}

static void test_escape_truncation(void **unused)
{
    static const char *const inputs[] = {
        "plainvaluewithoutspaces",
        "hello world, this is long",
        "\n\n\n\n\n\n\n\n",
        "a\x1b[2Jb\x1b[2Jc",
        "\"\"\"\"\"\"\"\"",
        "\\\\\\\\\\\\",
        "caf\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "\xff\xfe\xfd\xfc",
        "",
        "INC-\xe2\x80\xae"
        "1174\xe2\x80\xac\xc2\xad\xef\xbb\xbf and more text",
    };
    char buf[80];

    (void)unused;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        for (size_t out_len = 1; out_len <= 64; out_len++) {
            memset(buf, GUARD, sizeof(buf));
            text_escape_log(inputs[i], buf, out_len);
            for (size_t k = out_len; k < sizeof(buf); k++)
                assert_int_equal((unsigned char)buf[k], GUARD);
            check_escaped(inputs[i], buf, out_len, true);

            memset(buf, GUARD, sizeof(buf));
            text_escape_terminal(inputs[i], buf, out_len);
            for (size_t k = out_len; k < sizeof(buf); k++)
                assert_int_equal((unsigned char)buf[k], GUARD);
            check_escaped(inputs[i], buf, out_len, false);
        }
    }
    /* A long plain value keeps its start. */
    text_escape_log("abcdefghijklmnopqrstuvwxyz", buf, 12);
    assert_string_equal(buf, "abcdefgh...");
    text_escape_log("hello world and more", buf, 12);
    assert_string_equal(buf, "\"hello ...\"");
    text_escape_log("\n\n\n\n\n\n", buf, 16);
    assert_string_equal(buf, "\"\\x0a\\x0a...\"");
    text_escape_terminal("\n\n\n\n\n\n", buf, 16);
    assert_string_equal(buf, "\\x0a\\x0a\\x0a...");
}

static void test_escape_tiny_buffers(void **unused)
{
    static const char *const inputs[] = {"plain", "a b", "\n\n\n", "", "x", "\xc2\x9b", "\"", NULL};
    char buf[16];

    (void)unused;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        const char *in = inputs[i] ? inputs[i] : "";
        memset(buf, GUARD, sizeof(buf));
        text_escape_log(inputs[i], buf, 0);
        text_escape_terminal(inputs[i], buf, 0);
        for (size_t k = 0; k < sizeof(buf); k++)
            assert_int_equal((unsigned char)buf[k], GUARD);
        for (size_t out_len = 1; out_len <= 8; out_len++) {
            memset(buf, GUARD, sizeof(buf));
            text_escape_log(inputs[i], buf, out_len);
            for (size_t k = out_len; k < sizeof(buf); k++)
                assert_int_equal((unsigned char)buf[k], GUARD);
            check_escaped(in, buf, out_len, true);
            /* Never an unbalanced quote, whatever the size. */
            size_t quotes = 0, n = strlen(buf);
            for (size_t k = 0; k < n; k++)
                quotes += buf[k] == '"' && (k == 0 || buf[k - 1] != '\\');
            assert_int_equal(quotes % 2, 0);

            memset(buf, GUARD, sizeof(buf));
            text_escape_terminal(inputs[i], buf, out_len);
            for (size_t k = out_len; k < sizeof(buf); k++)
                assert_int_equal((unsigned char)buf[k], GUARD);
            check_escaped(in, buf, out_len, false);
        }
    }
    text_escape_log("a b", buf, 1);
    assert_string_equal(buf, "");
    text_escape_log("a b", buf, 3);
    assert_string_equal(buf, "\"\"");
    /* What fits whole is written whole; else as much as fits before "...". */
    text_escape_log("a b", buf, 5);
    assert_string_equal(buf, "\"\"");
    text_escape_log("a b", buf, 6);
    assert_string_equal(buf, "\"a b\"");
    text_escape_log("a bc", buf, 6);
    assert_string_equal(buf, "\"...\"");
    text_escape_log("a bcde", buf, 8);
    assert_string_equal(buf, "\"a ...\"");
    text_escape_log("abcd", buf, 5);
    assert_string_equal(buf, "abcd");
    text_escape_log("abcde", buf, 5);
    assert_string_equal(buf, "a...");
    text_escape_log("abcdefghi", buf, 8);
    assert_string_equal(buf, "abcd...");
    text_escape_terminal("abcdef", buf, 4);
    assert_string_equal(buf, "...");
    text_escape_terminal("abc", buf, 4);
    assert_string_equal(buf, "abc");
    text_escape_terminal("\n", buf, 5);
    assert_string_equal(buf, "\\x0a");
    text_escape_terminal("\n", buf, 4);
    assert_string_equal(buf, "...");
    text_escape_terminal("a\n", buf, 5);
    assert_string_equal(buf, "a...");
}

static void test_escape_random_bytes(void **unused)
{
    char in[48], buf[256];
    unsigned seed = 12345;

    (void)unused;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand_r(&seed) % 40);
        for (size_t k = 0; k < len; k++) {
            unsigned r = (unsigned)rand_r(&seed);
            /* Mostly bytes that start or continue UTF-8, so valid sequences come up too, and
             * now and then a hidden character. */
            in[k] = (char)(r % 3 == 0 ? 0x80 + (r >> 8) % 0x40 : 1 + (r >> 8) % 255);
            if (r % 17 == 0 && k + 3 <= len) {
                char bytes[4];
                encode(hidden_at((r >> 8) % N_HIDDEN), bytes);
                memcpy(in + k, bytes, strlen(bytes));
                k += strlen(bytes) - 1;
            }
        }
        in[len] = '\0';
        size_t out_len = 1 + (size_t)(rand_r(&seed) % 200);
        text_escape_log(in, buf, out_len);
        check_escaped(in, buf, out_len, true);
        text_escape_terminal(in, buf, out_len);
        check_escaped(in, buf, out_len, false);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_matches_reference_exhaustively),
        cmocka_unit_test(test_hidden_table),
        cmocka_unit_test(test_hidden_refused_in_names_and_hosts),
        cmocka_unit_test(test_clean_text_and_hidden_characters),
        cmocka_unit_test(test_clean_text),
        cmocka_unit_test(test_clean_text_length_bounds),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_escape_log_values),
        cmocka_unit_test(test_escape_terminal_values),
        cmocka_unit_test(test_escape_hidden_characters),
        cmocka_unit_test(test_escape_json_hidden),
        cmocka_unit_test(test_escape_every_single_byte),
        cmocka_unit_test(test_escape_every_byte_pair),
        cmocka_unit_test(test_escape_truncation),
        cmocka_unit_test(test_escape_tiny_buffers),
        cmocka_unit_test(test_escape_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
