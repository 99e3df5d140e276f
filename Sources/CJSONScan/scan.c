#include "CJSONScan.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t cjson_plain_prefix(const uint8_t *bytes, size_t count) {
    size_t index = 0;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (index + 16 <= count) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(const void *)(bytes + index));
        // A signed compare: below 0x20 are the control characters and, being negative, the bytes from 0x80.
        const __m128i special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
            _mm_cmplt_epi8(chunk, space));
        const int mask = _mm_movemask_epi8(special);
        if (mask != 0) {
            return index + (size_t)__builtin_ctz((unsigned)mask);
        }
        index += 16;
    }
#endif
    while (index < count) {
        const uint8_t byte = bytes[index];
        if (byte < 0x20 || byte >= 0x80 || byte == '"' || byte == '\\') {
            return index;
        }
        index += 1;
    }
    return index;
}

int cjson_hex64_decode_lower(const uint8_t *hex, uint8_t *out) {
#if defined(__SSE2__)
    const __m128i below_digits = _mm_set1_epi8('0' - 1);
    const __m128i above_digits = _mm_set1_epi8('9' + 1);
    const __m128i below_letters = _mm_set1_epi8('a' - 1);
    const __m128i above_letters = _mm_set1_epi8('f' + 1);
    const __m128i low_nibble = _mm_set1_epi8(0x0F);
    const __m128i nine = _mm_set1_epi8(9);
    const __m128i low_byte = _mm_set1_epi16(0x00FF);
    for (int step = 0; step < 4; step++) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(const void *)(hex + 16 * step));
        // Signed compares: a byte from 0x80 is negative and falls in neither range.
        const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(chunk, below_digits), _mm_cmplt_epi8(chunk, above_digits));
        const __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(chunk, below_letters), _mm_cmplt_epi8(chunk, above_letters));
        if (_mm_movemask_epi8(_mm_or_si128(digit, letter)) != 0xFFFF) {
            return 0;
        }
        // '0'-'9' are 0x30-0x39 and 'a'-'f' 0x61-0x66: the low nibble, plus 9 for a letter.
        const __m128i nibbles = _mm_add_epi8(_mm_and_si128(chunk, low_nibble), _mm_and_si128(letter, nine));
        // Each 16-bit lane holds a digit pair, the first in its low byte: (first << 4) | second.
        const __m128i pairs = _mm_or_si128(
            _mm_slli_epi16(_mm_and_si128(nibbles, low_byte), 4), _mm_srli_epi16(nibbles, 8));
        const __m128i packed = _mm_packus_epi16(pairs, pairs);
        _mm_storel_epi64((__m128i *)(void *)(out + 8 * step), packed);
    }
    return 1;
#else
    for (int index = 0; index < 32; index++) {
        uint8_t value = 0;
        for (int half = 0; half < 2; half++) {
            const uint8_t byte = hex[2 * index + half];
            uint8_t nibble;
            if (byte >= '0' && byte <= '9') {
                nibble = (uint8_t)(byte - '0');
            } else if (byte >= 'a' && byte <= 'f') {
                nibble = (uint8_t)(byte - 'a' + 10);
            } else {
                return 0;
            }
            value = (uint8_t)((value << 4) | nibble);
        }
        out[index] = value;
    }
    return 1;
#endif
}

void cjson_hex32_encode_lower(const uint8_t *bytes, uint8_t *hex) {
#if defined(__SSE2__)
    const __m128i low_nibble = _mm_set1_epi8(0x0F);
    const __m128i zero = _mm_set1_epi8('0');
    const __m128i nine = _mm_set1_epi8(9);
    const __m128i letter_gap = _mm_set1_epi8('a' - '0' - 10);
    for (int step = 0; step < 2; step++) {
        const __m128i chunk = _mm_loadu_si128((const __m128i *)(const void *)(bytes + 16 * step));
        const __m128i high = _mm_and_si128(_mm_srli_epi16(chunk, 4), low_nibble);
        const __m128i low = _mm_and_si128(chunk, low_nibble);
        // Each byte's two digits in order: the high nibble first.
        const __m128i first = _mm_unpacklo_epi8(high, low);
        const __m128i second = _mm_unpackhi_epi8(high, low);
        const __m128i first_hex = _mm_add_epi8(_mm_add_epi8(first, zero), _mm_and_si128(_mm_cmpgt_epi8(first, nine), letter_gap));
        const __m128i second_hex = _mm_add_epi8(_mm_add_epi8(second, zero), _mm_and_si128(_mm_cmpgt_epi8(second, nine), letter_gap));
        _mm_storeu_si128((__m128i *)(void *)(hex + 32 * step), first_hex);
        _mm_storeu_si128((__m128i *)(void *)(hex + 32 * step + 16), second_hex);
    }
#else
    static const char digits[] = "0123456789abcdef";
    for (int index = 0; index < 32; index++) {
        hex[2 * index] = (uint8_t)digits[bytes[index] >> 4];
        hex[2 * index + 1] = (uint8_t)digits[bytes[index] & 0x0F];
    }
#endif
}
