#include "CAPNSShims.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// A free list per size class in front of malloc, for one nghttp2 session (see CAPNSShims.h).
//
// Every block starts with a 16-byte header (so that the caller's memory keeps malloc's 16-byte alignment): the
// block's size class, or CAPNS_LARGE for a block of its own size, and that size. A free block of a class links to
// the next through its first bytes.

enum { CAPNS_CLASSES = 8, CAPNS_SMALLEST = 16, CAPNS_HEADER = 16 };
#define CAPNS_LARGE UINT32_MAX

typedef struct {
    uint32_t size_class;
    uint32_t unused;
    uint64_t capacity;
} capns_block_header;

_Static_assert(sizeof(capns_block_header) == CAPNS_HEADER, "the header keeps malloc's alignment");

struct capns_memory_pool {
    void *free_lists[CAPNS_CLASSES];
    size_t cached_bytes;
    size_t max_cached_bytes;
    capns_memory_pool_statistics statistics;
};

static size_t class_capacity(uint32_t size_class) {
    return (size_t)CAPNS_SMALLEST << size_class;
}

/// The smallest class that holds `size` bytes, or CAPNS_LARGE.
static uint32_t class_of(size_t size) {
    uint32_t size_class = 0;
    size_t capacity = CAPNS_SMALLEST;
    while (capacity < size) {
        if (++size_class == CAPNS_CLASSES) return CAPNS_LARGE;
        capacity <<= 1;
    }
    return size_class;
}

static capns_block_header *header_of(void *pointer) {
    return (capns_block_header *)((char *)pointer - CAPNS_HEADER);
}

capns_memory_pool *capns_memory_pool_new(size_t max_cached_bytes) {
    capns_memory_pool *pool = calloc(1, sizeof(capns_memory_pool));
    if (pool) pool->max_cached_bytes = max_cached_bytes;
    return pool;
}

void capns_memory_pool_delete(capns_memory_pool *pool) {
    if (!pool) return;
    for (int size_class = 0; size_class < CAPNS_CLASSES; size_class++) {
        void *block = pool->free_lists[size_class];
        while (block) {
            void *next = *(void **)block;
            free(header_of(block));
            block = next;
        }
    }
    free(pool);
}

void *capns_memory_pool_malloc(size_t size, void *user_data) {
    capns_memory_pool *pool = user_data;
    uint32_t size_class = class_of(size);
    if (size_class != CAPNS_LARGE) {
        void *block = pool->free_lists[size_class];
        if (block) {
            pool->free_lists[size_class] = *(void **)block;
            pool->cached_bytes -= class_capacity(size_class);
            pool->statistics.reused += 1;
            return block;
        }
    }
    size_t capacity = size_class == CAPNS_LARGE ? size : class_capacity(size_class);
    if (capacity > SIZE_MAX - CAPNS_HEADER) return NULL;
    capns_block_header *header = malloc(CAPNS_HEADER + capacity);
    if (!header) return NULL;
    header->size_class = size_class;
    header->unused = 0;
    header->capacity = capacity;
    pool->statistics.allocated += 1;
    return (char *)header + CAPNS_HEADER;
}

void capns_memory_pool_free(void *pointer, void *user_data) {
    if (!pointer) return;
    capns_memory_pool *pool = user_data;
    capns_block_header *header = header_of(pointer);
    uint32_t size_class = header->size_class;
    if (size_class != CAPNS_LARGE && pool->cached_bytes + class_capacity(size_class) <= pool->max_cached_bytes) {
        *(void **)pointer = pool->free_lists[size_class];
        pool->free_lists[size_class] = pointer;
        pool->cached_bytes += class_capacity(size_class);
        pool->statistics.kept += 1;
        return;
    }
    pool->statistics.released += 1;
    free(header);
}

void *capns_memory_pool_calloc(size_t count, size_t size, void *user_data) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *pointer = capns_memory_pool_malloc(count * size, user_data);
    if (pointer) memset(pointer, 0, count * size);
    return pointer;
}

void *capns_memory_pool_realloc(void *pointer, size_t size, void *user_data) {
    if (!pointer) return capns_memory_pool_malloc(size, user_data);
    if (size == 0) {
        capns_memory_pool_free(pointer, user_data);
        return NULL;
    }
    size_t capacity = header_of(pointer)->capacity;
    if (size <= capacity) return pointer;
    void *moved = capns_memory_pool_malloc(size, user_data);
    if (!moved) return NULL;
    memcpy(moved, pointer, capacity);
    capns_memory_pool_free(pointer, user_data);
    return moved;
}

nghttp2_mem capns_memory_pool_nghttp2(capns_memory_pool *pool) {
    nghttp2_mem mem = {
        .mem_user_data = pool,
        .malloc = capns_memory_pool_malloc,
        .free = capns_memory_pool_free,
        .calloc = capns_memory_pool_calloc,
        .realloc = capns_memory_pool_realloc,
    };
    return mem;
}

capns_memory_pool_statistics capns_memory_pool_get_statistics(const capns_memory_pool *pool) {
    capns_memory_pool_statistics statistics = pool->statistics;
    statistics.cached_bytes = pool->cached_bytes;
    return statistics;
}
