#ifndef CAPNS_SHIMS_H
#define CAPNS_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <nghttp2/nghttp2.h>

/// OpenSSL macros that the Swift importer cannot see, as real functions.
int capns_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
int capns_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
long capns_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
size_t capns_BIO_ctrl_pending(BIO *bio);
int capns_TLS1_2_VERSION(void);

/// Drains the thread's OpenSSL error queue into `buffer` as one line ("" when empty).
void capns_ERR_describe(char *buffer, size_t length);
/// The same, also storing the reason code (`ERR_GET_REASON`) of up to `capacity` of the drained errors in
/// `reasons`; returns how many it stored.
size_t capns_ERR_describe_reasons(char *buffer, size_t length, int *reasons, size_t capacity);
/// The reason codes of a refused ALPN: the peer's `no_application_protocol` alert, and the local check.
int capns_SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL(void);
int capns_SSL_R_NO_APPLICATION_PROTOCOL(void);

/// Free lists in front of malloc for one nghttp2 session's own allocations (its streams, outbound items, copies
/// of header fields: several per request, each freed soon after). Blocks of up to 2 KiB are kept in eight size
/// classes and reused, up to `max_cached_bytes` kept in all; larger blocks, and what does not fit, go to malloc
/// and free. Not thread-safe: a session is used by one thread at a time, and so is its pool. Delete the pool
/// after the session.
typedef struct capns_memory_pool capns_memory_pool;

typedef struct {
    /// Blocks taken from malloc.
    uint64_t allocated;
    /// Allocations served by a kept block.
    uint64_t reused;
    /// Frees that kept the block.
    uint64_t kept;
    /// Frees that gave the block back to the system (large, or over the bound).
    uint64_t released;
    /// Bytes of the blocks kept now.
    uint64_t cached_bytes;
} capns_memory_pool_statistics;

capns_memory_pool *capns_memory_pool_new(size_t max_cached_bytes);
void capns_memory_pool_delete(capns_memory_pool *pool);
/// The allocator to pass to `nghttp2_session_client_new3` (nghttp2 copies it).
nghttp2_mem capns_memory_pool_nghttp2(capns_memory_pool *pool);
capns_memory_pool_statistics capns_memory_pool_get_statistics(const capns_memory_pool *pool);

void *capns_memory_pool_malloc(size_t size, void *pool);
void capns_memory_pool_free(void *pointer, void *pool);
void *capns_memory_pool_calloc(size_t count, size_t size, void *pool);
void *capns_memory_pool_realloc(void *pointer, size_t size, void *pool);

#endif
