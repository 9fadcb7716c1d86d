/* The tutorial's first Queue example: a boss fills a queue with
 * put_nowait, then three workers take tasks until it is empty. A task got
 * by one worker is never got by another.
 *
 *   def worker(n):
 *       while not tasks.empty():
 *           task = tasks.get(); print('Worker %s got task %s' % (n, task))
 *           gevent.sleep(0)
 *       print('Quitting time!')
 *   def boss():
 *       for i in xrange(1, 25): tasks.put_nowait(i)
 *   gevent.spawn(boss).join()
 *   gevent.joinall([gevent.spawn(worker, 'steve'), ... 'john', ... 'nancy'])
 */
#include <gzmq.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static gz_queue *tasks;

static void *worker(void *name)
{
    void *task;
    while (!gz_queue_empty(tasks)) {
        gz_queue_get(tasks, &task, GZ_FOREVER);
        printf("Worker %s got task %d\n", (const char *)name, (int)(intptr_t)task);
        gz_sleep(0); /* let the other workers have a go */
    }
    printf("Quitting time!\n");
    return NULL;
}

static void *boss(void *arg)
{
    (void)arg;
    for (intptr_t i = 1; i < 25; i++)
        gz_queue_put_nowait(tasks, (void *)i); /* unbounded: never fails */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA boss queues 24 tasks; three workers share them out.\n",
               argv[0]);
        return 0;
    }
    tasks = gz_queue_new(0);
    gz_greenlet *b = gz_spawn(boss, NULL);
    gz_join(b, GZ_FOREVER);
    gz_release(b);
    gz_greenlet *w[3] = {gz_spawn(worker, "steve"), gz_spawn(worker, "john"),
                         gz_spawn(worker, "nancy")};
    gz_joinall(w, 3, GZ_FOREVER);
    for (int i = 0; i < 3; i++)
        gz_release(w[i]);
    gz_queue_free(tasks);
    return 0;
}
