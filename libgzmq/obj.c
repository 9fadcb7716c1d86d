/* The misuse checks' report (obj.h). */
#include <stdio.h>
#include <stdlib.h>

#include "obj.h"

#ifdef GZ_DEBUG
_Noreturn void gz__not_live(const char *fn, const void *obj, const char *type)
{
    gz__warn("%s: %p is not a live %s (freed or released?)\n",
            fn, obj, type);
    abort();
}
#else
/* ISO C forbids an empty translation unit. */
typedef int gz_obj_unused;
#endif
