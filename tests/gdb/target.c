/* The program tests/gdb/check.sh looks at with gdb: greenlets parked on a
 * queue, a sleep, a join and a semaphore, then the main greenlet aborts
 * (a core file; under gdb, a stop), or with an argument writes "parked" and
 * waits in pause() for gdb -p. Each greenlet waits in a function of its
 * own, whose name the backtraces must show. */
#include <gzmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gz_queue *q;
static gz_sem *sem;

static void *waits_on_the_queue(void *arg)
{
    void *item;
    (void)arg;
    gz_queue_get(q, &item, GZ_FOREVER);
    return NULL;
}

static void *sleeps_an_hour(void *arg)
{
    (void)arg;
    gz_sleep(3600);
    return NULL;
}

static void *joins_the_sleeper(void *arg)
{
    gz_join(arg, GZ_FOREVER);
    return NULL;
}

static void *acquires_the_semaphore(void *arg)
{
    (void)arg;
    gz_sem_acquire(sem, GZ_FOREVER);
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argv;
    q = gz_queue_new(0);
    sem = gz_sem_new(0);
    gz_greenlet *sleeper = gz_spawn(sleeps_an_hour, NULL);
    if (!q || !sem || !sleeper || gz_set_name(sleeper, "the-sleeper") != 0 ||
        !gz_spawn(waits_on_the_queue, NULL) || !gz_spawn(joins_the_sleeper, sleeper) ||
        !gz_spawn(acquires_the_semaphore, NULL))
        return 2;
    gz_sleep(0.01); /* every greenlet parks */
    if (argc > 1) {
        printf("parked\n");
        fflush(stdout);
        for (;;)
            pause(); /* killed by check.sh */
    }
    abort();
}
