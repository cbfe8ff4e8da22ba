/*
 * qscope entry point.  Placeholder until the command dispatcher lands:
 * prints the version.
 */
#include "config.h"

#include <stdio.h>

int
main(void)
{
    printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
    return 0;
}
