/* Validation of caller-supplied text and escaping for every place text is shown or logged:
 * syslog, the audit file (via JSON) and terminals. Nothing a user typed may start a new line,
 * forge a field or drive a terminal. */
#ifndef LOCKBOX_TEXT_H
#define LOCKBOX_TEXT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns true for well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). */
bool text_is_utf8(const char *s, size_t len);
/* Hidden characters: code points that show as nothing, or that change the order in which the
 * text around them is shown (Trojan Source, CVE-2021-42574), so that what a reader sees is not
 * what was typed. The table in text.c:
 *   U+00AD soft hyphen                      U+061C Arabic letter mark
 *   U+200B..U+200F zero width space, non-joiner, joiner, left-to-right and right-to-left marks
 *   U+2028, U+2029 line and paragraph separators
 *   U+202A..U+202E bidi embeddings, pop and overrides (LRE RLE PDF LRO RLO)
 *   U+2060..U+2065 word joiner, invisible operators (U+2065 is unassigned)
 *   U+2066..U+2069 bidi isolates (LRI RLI FSI PDI)
 *   U+206A..U+206F deprecated format controls (symmetric swapping, digit shapes)
 *   U+FEFF zero width no-break space (byte order mark)
 * Wherever text is shown (syslog, terminals, the engineer's PAM messages, the audit file,
 * lockboxctl's JSON) each is written as \uXXXX: a backslash, 'u' and four lowercase hex
 * digits, as JSON writes it, so it reads the same in every place and a JSON parser gets the
 * character back. Every entry is in the BMP, so four digits always suffice. */
bool text_is_hidden(uint32_t code_point);

/* Free text (reason, comment): 1..max bytes, UTF-8, no C0, DEL or C1 control characters, and
 * none of the hidden characters that reorder text or break lines: the bidi embeddings,
 * overrides and isolates (U+202A..U+202E, U+2066..U+2069), the deprecated format controls
 * (U+206A..U+206F) and the line and paragraph separators (U+2028, U+2029).
 * Why refuse those and accept the other hidden characters: a reordered or broken reason is
 * what Trojan Source forges, and it reaches readers we cannot escape for: a webhook's chat
 * message, `jq -r` of lockboxctl's JSON, an API client. Nobody types them: right-to-left
 * scripts are ordered by the Unicode bidi algorithm without them, and a line break is already
 * refused as C0 or C1. The rest occur in real text and only hide themselves: ZWNJ in Persian,
 * ZWJ in emoji and Indic scripts, a soft hyphen or byte order mark pasted from a document,
 * LRM/RLM/ALM placing punctuation in mixed-direction text. They are accepted and always shown
 * escaped, which makes them visible where they would have hidden. */
bool text_is_clean(const char *s, size_t max);
/* A name (user, tenant, service): 1..max bytes of [A-Za-z0-9._-], not starting with '-'.
 * ASCII only, so no hidden character (and no look-alike letter) can be part of a name. */
bool text_is_name(const char *s, size_t max);
/* A host or remote host: 1..max bytes of [A-Za-z0-9._:%-] (DNS names, IPv4/IPv6 literals);
 * ASCII only, as names are. */
bool text_is_host(const char *s, size_t max);

/* A request or session id: exactly LOCKBOX_ID_HEX_LEN lowercase hex characters (len bytes
 * of s; use strlen for a C string). */
bool text_is_request_id(const char *s, size_t len);

/* One syslog key=value value: bare when it is plain, else double-quoted with \" \\,
 * \xNN for control bytes, DEL, C1 and invalid UTF-8, and \uXXXX for hidden characters.
 * Always NUL-terminates; truncates with "..." (never inside an escape) when out is too small.
 * Returns out. */
char *text_escape_log(const char *in, char *out, size_t out_len);
/* For a terminal: the same escapes, without quotes. */
char *text_escape_terminal(const char *in, char *out, size_t out_len);

/* A copy of JSON text with each hidden character written as its \uXXXX escape, every other
 * byte as it was; NULL when out of memory; the caller frees. For the output of a JSON writer
 * (json-c writes these characters raw): outside strings such text is ASCII, and inside one
 * the escape decodes to the same character, so the document means exactly what it did. */
char *text_escape_json_hidden(const char *json);

#endif
