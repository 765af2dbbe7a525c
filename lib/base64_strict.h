/* Base64 (RFC 4648, standard alphabet, with padding) in exactly one spelling per value: signed
 * grants and pinned keys hold binary values as text, and a second spelling of the same bytes
 * would let two different texts carry one signature or one key. */
#ifndef LOCKBOX_BASE64_STRICT_H
#define LOCKBOX_BASE64_STRICT_H
#include <stdbool.h>
#include <stddef.h>

/* The length of the encoding of n bytes (without a NUL). */
#define BASE64_STRICT_LEN(n) ((((n) + 2) / 3) * 4)

/* Encodes n bytes into out (BASE64_STRICT_LEN(n) + 1 bytes, NUL-terminated). */
void base64_strict_encode(const unsigned char *in, size_t n, char *out);
/* Decodes text of len bytes into exactly n bytes. True only when text is the one encoding
 * base64_strict_encode() writes for those bytes: the right length, the alphabet, the padding,
 * and zero bits where padding leaves some. */
bool base64_strict_decode(const char *text, size_t len, unsigned char *out, size_t n);

#endif
