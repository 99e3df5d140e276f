#include "CAPNSShims.h"
#include <openssl/err.h>
#include <string.h>

int capns_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

int capns_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

long capns_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

size_t capns_BIO_ctrl_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}

int capns_TLS1_2_VERSION(void) {
    return TLS1_2_VERSION;
}

void capns_ERR_describe(char *buffer, size_t length) {
    (void)capns_ERR_describe_reasons(buffer, length, NULL, 0);
}

size_t capns_ERR_describe_reasons(char *buffer, size_t length, int *reasons, size_t capacity) {
    if (length == 0) return 0;
    buffer[0] = '\0';
    unsigned long code;
    size_t used = 0;
    size_t count = 0;
    while ((code = ERR_get_error()) != 0) {
        if (count < capacity) reasons[count++] = ERR_GET_REASON(code);
        char one[256];
        ERR_error_string_n(code, one, sizeof(one));
        size_t n = strlen(one);
        if (used + n + 3 >= length) continue;
        if (used > 0) { memcpy(buffer + used, "; ", 2); used += 2; }
        memcpy(buffer + used, one, n);
        used += n;
        buffer[used] = '\0';
    }
    return count;
}

int capns_SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL(void) {
    return SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL;
}

int capns_SSL_R_NO_APPLICATION_PROTOCOL(void) {
    return SSL_R_NO_APPLICATION_PROTOCOL;
}
