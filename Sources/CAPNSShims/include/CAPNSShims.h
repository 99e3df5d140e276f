#ifndef CAPNS_SHIMS_H
#define CAPNS_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

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

#endif
