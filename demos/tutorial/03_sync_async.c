/* Synchronous vs asynchronous: the same ten tasks run one after the other,
 * then as greenlets that all wait at once.
 *
 *   def task(pid):
 *       gevent.sleep(random.randint(0, 2) * 0.001)
 *       print('Task', pid, 'done')
 *
 * Each task sleeps 0, 10 or 20 ms (the tutorial's 0-2 ms times ten, so a
 * busy machine cannot reorder the wakeups). The "random" numbers come from a
 * fixed-seed generator: the asynchronous order looks shuffled, yet, the
 * scheduler being deterministic, it is the same on every run.
 */
#include <gzmq.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* xorshift32 with a fixed seed: random.randint(lo, hi), reproducibly. */
static uint32_t rng_state = 2463534242u;

static int randint(int lo, int hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return lo + (int)(rng_state % (uint32_t)(hi - lo + 1));
}

static void *task(void *arg)
{
    int pid = (int)(intptr_t)arg;
    gz_sleep(randint(0, 2) * 0.01);
    printf("Task %d done\n", pid);
    return NULL;
}

/* Called directly, each task blocks its caller until it is done. */
static void synchronous(void)
{
    for (int i = 1; i < 10; i++)
        task((void *)(intptr_t)i);
}

/* Spawned, the tasks' sleeps overlap: about 20 ms in all. */
static void asynchronous(void)
{
    gz_greenlet *threads[10];
    for (int i = 0; i < 10; i++)
        threads[i] = gz_spawn(task, (void *)(intptr_t)i);
    gz_joinall(threads, 10, GZ_FOREVER);
    for (int i = 0; i < 10; i++)
        gz_release(threads[i]);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nThe same tasks run synchronously, then asynchronously.\n",
               argv[0]);
        return 0;
    }
    printf("Synchronous:\n");
    synchronous();
    printf("Asynchronous:\n");
    asynchronous();
    return 0;
}
