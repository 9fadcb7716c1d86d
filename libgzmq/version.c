/* gz_version: the numbers the library was built with. */
#include <gzmq.h>

/* The Makefile passes its VERSION split in three; a header left behind by a
 * release bump stops the build here instead of lying at run time. */
#if defined(GZ_BUILD_VERSION_MAJOR)
_Static_assert(GZ_BUILD_VERSION_MAJOR == GZ_VERSION_MAJOR &&
                   GZ_BUILD_VERSION_MINOR == GZ_VERSION_MINOR &&
                   GZ_BUILD_VERSION_PATCH == GZ_VERSION_PATCH,
               "GZ_VERSION_* in include/gzmq.h differ from the Makefile's VERSION");
#endif

void gz_version(int *major, int *minor, int *patch)
{
    if (major)
        *major = GZ_VERSION_MAJOR;
    if (minor)
        *minor = GZ_VERSION_MINOR;
    if (patch)
        *patch = GZ_VERSION_PATCH;
}
