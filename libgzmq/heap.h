/* The one binary min-heap, for the timers (timer.c) and the priority queue
 * (queue.c). The caller owns the array: LESS(ctx, i, j) orders slots i and
 * j, SWAP(ctx, i, j) exchanges them (and updates any index the elements
 * keep). Always inlined, so that the constant callbacks are inlined too and
 * the timer path costs what a hand-written heap would. */
#ifndef GZ_HEAP_H
#define GZ_HEAP_H

#include "base.h"

typedef bool (*gz_heap_less)(const void *ctx, size_t i, size_t j);
typedef void (*gz_heap_swap)(void *ctx, size_t i, size_t j);

/* Move slot I up to its place; returns where it ended. */
GZ_INLINE size_t gz__heap_up(void *ctx, size_t i, gz_heap_less less,
                             gz_heap_swap swap)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!less(ctx, i, p))
            break;
        swap(ctx, i, p);
        i = p;
    }
    return i;
}

/* Move slot I of a heap of N down to its place; returns where it ended. */
GZ_INLINE size_t gz__heap_down(void *ctx, size_t i, size_t n, gz_heap_less less,
                               gz_heap_swap swap)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && less(ctx, c + 1, c))
            c++;
        if (!less(ctx, c, i))
            break;
        swap(ctx, i, c);
        i = c;
    }
    return i;
}

#endif
