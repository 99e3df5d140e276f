#include "CAPNSShims.h"
