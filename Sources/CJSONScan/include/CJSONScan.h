#ifndef CJSONSCAN_H
#define CJSONSCAN_H

#include <stddef.h>
#include <stdint.h>

/// The number of leading bytes of `bytes[0..<count]` that a JSON string holds as they are: printable ASCII other
/// than `"` and `\`. Stops at the first other byte (a quote, a backslash, a control character, or a byte of a
/// multi-byte UTF-8 sequence, which the caller checks itself). Sixteen bytes per step where SSE2 is available.
size_t cjson_plain_prefix(const uint8_t *bytes, size_t count);

/// Decodes 64 lowercase hex digits (`0`-`9`, `a`-`f`) at `hex` into 32 bytes at `out`; returns 0, leaving `out`
/// unspecified, when any of the 64 is another byte (an uppercase digit included). Sixteen digits per step where
/// SSE2 is available.
int cjson_hex64_decode_lower(const uint8_t *hex, uint8_t *out);

/// Encodes 32 bytes at `bytes` as 64 lowercase hex digits at `hex`.
void cjson_hex32_encode_lower(const uint8_t *bytes, uint8_t *hex);

#endif
