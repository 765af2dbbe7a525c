/* Canonical base64 through libcrypto's codec, with the checks it leaves out (it skips
 * whitespace and accepts non-zero padding bits). */
#include "base64_strict.h"

#include <openssl/evp.h>
#include <string.h>

/* The largest value we encode: an Ed25519 signature. */
#define BASE64_STRICT_MAX_BYTES 64

void base64_strict_encode(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static bool in_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

bool base64_strict_decode(const char *text, size_t len, unsigned char *out, size_t n)
{
    unsigned char decoded[BASE64_STRICT_MAX_BYTES + 3];
    char again[BASE64_STRICT_LEN(BASE64_STRICT_MAX_BYTES) + 1];
    size_t padding = (3 - n % 3) % 3;

    if (n == 0 || n > BASE64_STRICT_MAX_BYTES || len != BASE64_STRICT_LEN(n))
        return false;
    for (size_t i = 0; i < len; i++) {
        bool is_padding = i >= len - padding;
        if (is_padding ? text[i] != '=' : !in_alphabet(text[i]))
            return false;
    }
    if (EVP_DecodeBlock(decoded, (const unsigned char *)text, (int)len) != (int)(n + padding))
        return false;
    /* Non-zero bits under the padding decode to the same bytes: re-encoding finds them. */
    base64_strict_encode(decoded, n, again);
    if (memcmp(again, text, len) != 0)
        return false;
    memcpy(out, decoded, n);
    return true;
}
