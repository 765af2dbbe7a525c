/* Text validation and escaping: pure functions over bytes. */
#include "text.h"

#include "lockbox_limits.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0 if invalid. */
static size_t utf8_sequence(const unsigned char *s, size_t len, uint32_t *code)
{
    size_t need;
    uint32_t cp;

    if (s[0] < 0x80) {
        *code = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (need > len)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *code = cp;
    return need;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

/* The hidden characters (text.h). `refused_in_text`: those that reorder text or break lines,
 * which free text may not hold; the others only hide themselves. */
static const struct hidden_range {
    uint32_t first, last;
    bool refused_in_text;
} hidden_ranges[] = {
    {0x00ad, 0x00ad, false}, /* soft hyphen */
    {0x061c, 0x061c, false}, /* Arabic letter mark */
    {0x200b, 0x200f, false}, /* zero width space, ZWNJ, ZWJ, LRM, RLM */
    {0x2028, 0x2029, true},  /* line and paragraph separators */
    {0x202a, 0x202e, true},  /* LRE RLE PDF LRO RLO */
    {0x2060, 0x2065, false}, /* word joiner, invisible operators */
    {0x2066, 0x2069, true},  /* LRI RLI FSI PDI */
    {0x206a, 0x206f, true},  /* deprecated format controls */
    {0xfeff, 0xfeff, false}, /* zero width no-break space, byte order mark */
};

static const struct hidden_range *hidden_range_of(uint32_t code_point)
{
    for (size_t i = 0; i < sizeof(hidden_ranges) / sizeof(hidden_ranges[0]); i++) {
        if (code_point >= hidden_ranges[i].first && code_point <= hidden_ranges[i].last)
            return &hidden_ranges[i];
    }
    return NULL;
}

bool text_is_hidden(uint32_t code_point)
{
    return hidden_range_of(code_point) != NULL;
}

static bool is_refused_in_text(uint32_t code_point)
{
    const struct hidden_range *range = hidden_range_of(code_point);

    return range != NULL && range->refused_in_text;
}

bool text_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(p + i, len - i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

bool text_is_clean(const char *s, size_t max)
{
    if (s == NULL)
        return false;
    size_t len = strnlen(s, max + 1);
    if (len == 0 || len > max)
        return false;
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(p + i, len - i, &cp);
        if (n == 0 || is_control(cp) || is_refused_in_text(cp))
            return false;
        i += n;
    }
    return true;
}

static bool all_bytes_in(const char *s, size_t max, const char *extra)
{
    if (s == NULL)
        return false;
    size_t len = strnlen(s, max + 1);
    if (len == 0 || len > max || s[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr(extra, c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

bool text_is_request_id(const char *s, size_t len)
{
    if (s == NULL || len != LOCKBOX_ID_HEX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

bool text_is_name(const char *s, size_t max)
{
    return all_bytes_in(s, max, "._-");
}

bool text_is_host(const char *s, size_t max)
{
    return all_bytes_in(s, max, "._:%-");
}

/* Appends what fits; marks truncation with "...". `reserve` is the room kept after each piece:
 * 4 ("..." and NUL) while the whole might not fit, 1 (NUL) once it is known to. A sink without
 * `out` only counts. */
struct sink {
    char *out;
    size_t len, cap, reserve;
    bool full;
};

static void sink_put(struct sink *sk, const char *bytes, size_t n)
{
    if (sk->full)
        return;
    if (sk->len + n + sk->reserve > sk->cap) {
        if (sk->len + 3 < sk->cap) {
            memcpy(sk->out + sk->len, "...", 3);
            sk->len += 3;
        }
        sk->full = true;
        return;
    }
    if (sk->out != NULL)
        memcpy(sk->out + sk->len, bytes, n);
    sk->len += n;
}

static void escape_into(struct sink *sk, const char *in, bool quote_specials)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t len = strlen(in);
    uint32_t cp;
    char hex[8];

    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(p + i, len - i, &cp);
        if (n > 0 && text_is_hidden(cp)) {
            snprintf(hex, sizeof(hex), "\\u%04x", (unsigned)cp);
            sink_put(sk, hex, 6);
            i += n;
            continue;
        }
        if (n == 0 || is_control(cp)) {
            size_t bad = n == 0 ? 1 : n;
            for (size_t k = 0; k < bad; k++) {
                snprintf(hex, sizeof(hex), "\\x%02x", p[i + k]);
                sink_put(sk, hex, 4);
            }
            i += bad;
            continue;
        }
        if (p[i] == '\\')
            sink_put(sk, "\\\\", 2);
        else if (quote_specials && p[i] == '"')
            sink_put(sk, "\\\"", 2);
        else
            sink_put(sk, (const char *)p + i, n);
        i += n;
    }
}

/* A value that fits whole is written whole: no room is then kept for "...". */
static size_t escaped_length(const char *in, bool quote_specials)
{
    struct sink count = {NULL, 0, SIZE_MAX, 0, false};

    escape_into(&count, in, quote_specials);
    return count.len;
}

static bool is_plain_log_value(const char *in)
{
    if (*in == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '=')
            return false;
    }
    return true;
}

char *text_escape_log(const char *in, char *out, size_t out_len)
{
    struct sink sk = {out, 0, out_len, 4, false};

    if (out_len == 0)
        return out;
    if (in == NULL)
        in = "";
    if (is_plain_log_value(in)) {
        if (strlen(in) < out_len)
            sk.reserve = 1;
        /* Byte by byte, so that a long value keeps its start (all printable ASCII). */
        for (const char *p = in; *p != '\0'; p++)
            sink_put(&sk, p, 1);
    } else if (out_len >= 3) {
        /* Both quotes always: a lone quote would swallow the fields after it. */
        out[0] = '"';
        sk.len = 1;
        sk.cap = out_len - 1; /* room for the closing quote */
        if (1 + escaped_length(in, true) < sk.cap)
            sk.reserve = 1;
        escape_into(&sk, in, true);
        sk.out[sk.len++] = '"';
    }
    out[sk.len < out_len ? sk.len : out_len - 1] = '\0';
    return out;
}

char *text_escape_terminal(const char *in, char *out, size_t out_len)
{
    struct sink sk = {out, 0, out_len, 4, false};

    if (out_len == 0)
        return out;
    if (in == NULL)
        in = "";
    if (escaped_length(in, false) < out_len)
        sk.reserve = 1;
    escape_into(&sk, in, false);
    out[sk.len < out_len ? sk.len : out_len - 1] = '\0';
    return out;
}

/* Writes json with hidden characters escaped into out (when not NULL); returns the length. */
static size_t escape_json_hidden_into(const char *json, char *out)
{
    const unsigned char *p = (const unsigned char *)json;
    size_t len = strlen(json), written = 0;
    uint32_t cp;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence(p + i, len - i, &cp);
        if (n > 0 && text_is_hidden(cp)) {
            if (out != NULL)
                snprintf(out + written, 7, "\\u%04x", (unsigned)cp);
            written += 6;
            i += n;
            continue;
        }
        n = n == 0 ? 1 : n; /* invalid UTF-8 is the writer's to answer for: kept as it was */
        if (out != NULL)
            memcpy(out + written, p + i, n);
        written += n;
        i += n;
    }
    return written;
}

char *text_escape_json_hidden(const char *json)
{
    size_t len = escape_json_hidden_into(json, NULL);
    char *out = malloc(len + 1);

    if (out == NULL)
        return NULL;
    escape_json_hidden_into(json, out);
    out[len] = '\0';
    return out;
}
