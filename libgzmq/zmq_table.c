/* The zmq layer's socket table: see zmq_table.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "zmq_table.h"

static void place(gz_ztable *t, void *value)
{
    size_t i = gz__ztable_home(t, gz__ztable_key(value));
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = value;
}

int gz__ztable_insert(gz_ztable *t, void *value)
{
    if ((t->len + 1) * 2 > t->cap) {
        size_t old = t->cap, cap = old ? 2 * old : 16;
        void **prev = t->slots, **slots = calloc(cap, sizeof *slots);
        if (!slots) {
            errno = ENOMEM;
            return -1;
        }
        t->slots = slots;
        t->cap = cap;
        for (size_t i = 0; i < old; i++)
            if (prev[i])
                place(t, prev[i]);
        free(prev);
    }
    place(t, value);
    t->len++;
    return 0;
}

/* Linear probing needs no tombstones: the entries after the hole in its
 * probe run move back into it unless they would move before their home. */
void gz__ztable_erase(gz_ztable *t, const void *key)
{
    size_t mask = t->cap - 1, i = gz__ztable_home(t, key);
    while (gz__ztable_key(t->slots[i]) != key)
        i = (i + 1) & mask;
    t->slots[i] = NULL;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t k = gz__ztable_home(t, gz__ztable_key(t->slots[j]));
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
    t->len--;
}

void gz__ztable_free(gz_ztable *t)
{
    free(t->slots);
    *t = (gz_ztable){0};
}
