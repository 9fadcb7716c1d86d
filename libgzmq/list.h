/* Intrusive doubly linked list: circular, with a head node. */
#ifndef GZ_LIST_H
#define GZ_LIST_H

#include "base.h"

typedef struct gz_list {
    struct gz_list *next, *prev;
} gz_list;

#define GZ_CONTAINER(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void gz__list_init(gz_list *h) { h->next = h->prev = h; }
static inline bool gz__list_empty(const gz_list *h) { return h->next == h; }
static inline bool gz__list_linked(const gz_list *n) { return n->next != NULL; }
static inline void gz__list_push(gz_list *h, gz_list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void gz__list_push_front(gz_list *h, gz_list *n)
{
    n->next = h->next;
    n->prev = h;
    h->next->prev = n;
    h->next = n;
}
/* Unlink N and mark it unlinked (next == NULL); harmless if not linked. */
static inline void gz__list_remove(gz_list *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}
static inline gz_list *gz__list_pop(gz_list *h)
{
    gz_list *n = h->next;
    if (n == h)
        return NULL;
    gz__list_remove(n);
    return n;
}

#endif
