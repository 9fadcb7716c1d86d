/* Three ways to start a greenlet: a function given to gz_spawn, a greenlet
 * created with gz_greenlet_new and started later, and a "subclass": a struct
 * that embeds the greenlet with its own state, like the tutorial's
 *
 *   class MyGreenlet(Greenlet):
 *       def _run(self): print(self.message); gevent.sleep(self.n)
 *
 * C has no closures, so a function's arguments travel in a struct (or, for
 * a small integer, in the void * itself). Times are a tenth of the
 * tutorial's.
 */
#include <gzmq.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* foo(message, n): the arguments in one struct. */
struct foo_args {
    const char *message;
    double n;
};

static void *foo(void *arg)
{
    struct foo_args *a = arg;
    gz_sleep(a->n);
    printf("%s\n", a->message);
    return NULL;
}

/* lambda x: x + 1, with x carried in the pointer. */
static void *plus_one(void *x) { return (void *)((intptr_t)x + 1); }

/* ---- the "subclass": the greenlet and its state in one object ---- */

typedef struct my_greenlet {
    gz_greenlet *greenlet; /* the base part */
    const char *message;
    double n;
} my_greenlet;

/* _run: what the greenlet does, with the object as its argument. */
static void *my_greenlet_run(void *arg)
{
    my_greenlet *self = arg;
    printf("%s\n", self->message);
    gz_sleep(self->n);
    return NULL;
}

/* __init__: created, not started, as Greenlet's constructor. */
static my_greenlet *my_greenlet_new(const char *message, double n)
{
    my_greenlet *self = malloc(sizeof *self);
    if (!self)
        return NULL;
    self->message = message;
    self->n = n;
    self->greenlet = gz_greenlet_new(my_greenlet_run, self);
    if (!self->greenlet) {
        free(self);
        return NULL;
    }
    return self;
}

static int my_greenlet_start(my_greenlet *self) { return gz_start(self->greenlet); }

static int my_greenlet_join(my_greenlet *self) { return gz_join(self->greenlet, GZ_FOREVER); }

static void my_greenlet_free(my_greenlet *self)
{
    if (!self)
        return;
    gz_release(self->greenlet);
    free(self);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nThree ways to spawn: a function, new + start, a \"subclass\".\n",
               argv[0]);
        return 0;
    }
    /* Greenlet(foo, "Hello", 1): created now, started explicitly. */
    struct foo_args hello = {"Hello", 0.1};
    gz_greenlet *thread1 = gz_greenlet_new(foo, &hello);
    gz_start(thread1);

    /* gevent.spawn(foo, "I could", 2): create and start in one call. */
    struct foo_args could = {"I could", 0.2};
    gz_greenlet *thread2 = gz_spawn(foo, &could);

    /* gevent.spawn(lambda x: x + 1, 2) */
    gz_greenlet *thread3 = gz_spawn(plus_one, (void *)(intptr_t)2);

    /* Block until all threads complete. */
    gz_greenlet *threads[3] = {thread1, thread2, thread3};
    gz_joinall(threads, 3, GZ_FOREVER);
    printf("thread3 returned %d\n", (int)(intptr_t)gz_value(thread3));
    for (int i = 0; i < 3; i++)
        gz_release(threads[i]);

    /* g = MyGreenlet("Hi there!", 3); g.start(); g.join() */
    my_greenlet *g = my_greenlet_new("Hi there!", 0.3);
    if (!g)
        return 1;
    my_greenlet_start(g);
    my_greenlet_join(g);
    my_greenlet_free(g);
    return 0;
}
