#include "psample/version.h"

const char *ps_version_string(void)
{
    return PSAMPLE_VERSION_STRING;
}
