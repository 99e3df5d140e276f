#ifndef CJSONSCAN_H
#define CJSONSCAN_H

#include <stddef.h>
#include <stdint.h>

/// The number of leading bytes of `bytes[0..<count]` that a JSON string holds as they are: printable ASCII other
/// than `"` and `\`. Stops at the first other byte (a quote, a backslash, a control character, or a byte of a
/// multi-byte UTF-8 sequence, which the caller checks itself). Sixteen bytes per step where SSE2 is available.
size_t cjson_plain_prefix(const uint8_t *bytes, size_t count);

#endif
