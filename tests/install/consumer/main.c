/* Uses the public API of an installed psample. */
#include <psample/psample.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (strcmp(ps_version_string(), PSAMPLE_VERSION_STRING) != 0) {
        fprintf(stderr, "header version %s, library version %s\n", PSAMPLE_VERSION_STRING,
                ps_version_string());
        return 1;
    }
    printf("consumer: psample %s, exit code for a config error %d\n", ps_version_string(),
           ps_status_exit_code(PS_ERR_CONFIG));
    return ps_status_exit_code(PS_ERR_CONFIG) == 1 ? 0 : 1;
}
