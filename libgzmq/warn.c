/* The library's messages to the user, on stderr (base.h). */
#include <stdarg.h>
#include <stdio.h>

#include "base.h"

void gz__warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* One buffer, one write: lines of two threads do not interleave. */
    char line[1024];
    int n = snprintf(line, sizeof line, "libgzmq: ");
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fputs(line, stderr);
}
