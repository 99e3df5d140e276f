#ifndef CAPNS_SHIMS_H
#define CAPNS_SHIMS_H
#include <stddef.h>
#endif
