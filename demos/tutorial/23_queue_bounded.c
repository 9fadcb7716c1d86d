/* The tutorial's second Queue example: a queue of at most 3 tasks, so the
 * boss's put blocks until a worker makes room; a worker's get gives up
 * (gevent's Empty: ETIMEDOUT here) after 1 s without work (0.1 s here).
 *
 *   tasks = Queue(maxsize=3)
 *   def worker(n):
 *       try:
 *           while True:
 *               task = tasks.get(timeout=1)
 *               print('Worker %s got task %s' % (n, task)); gevent.sleep(0)
 *       except Empty:
 *           print('Quitting time!')
 *   def boss():
 *       for i in xrange(1, 10): tasks.put(i)
 *       print('Assigned all work in iteration 1')
 *       for i in xrange(1, 20): tasks.put(i)
 *       print('Assigned all work in iteration 2')
 */
#include <errno.h>
#include <gzmq.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static gz_queue *tasks;

static void *worker(void *name)
{
    void *task;
    while (gz_queue_get(tasks, &task, 0.1) == 0) { /* decrements the size */
        printf("Worker %s got task %d\n", (const char *)name, (int)(intptr_t)task);
        gz_sleep(0);
    }
    if (errno == ETIMEDOUT) /* Empty: no work for 0.1 s */
        printf("Quitting time!\n");
    return NULL;
}

static void *boss(void *arg)
{
    (void)arg;
    /* put waits while 3 tasks are queued: the boss hands work out only as
     * fast as the workers free up. */
    for (intptr_t i = 1; i < 10; i++)
        gz_queue_put(tasks, (void *)i, GZ_FOREVER);
    printf("Assigned all work in iteration 1\n");
    for (intptr_t i = 1; i < 20; i++)
        gz_queue_put(tasks, (void *)i, GZ_FOREVER);
    printf("Assigned all work in iteration 2\n");
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA boss puts 9 then 19 tasks in a queue of 3; three workers get "
               "them with a 0.1 s timeout.\n", argv[0]);
        return 0;
    }
    tasks = gz_queue_new(3);
    gz_greenlet *g[4] = {gz_spawn(boss, NULL), gz_spawn(worker, "steve"),
                         gz_spawn(worker, "john"), gz_spawn(worker, "bob")};
    gz_joinall(g, 4, GZ_FOREVER);
    for (int i = 0; i < 4; i++)
        gz_release(g[i]);
    gz_queue_free(tasks);
    return 0;
}
