/* The tutorial's AsyncResult example: a value sent along with the wakeup,
 * a future that the waiter reads once the setter has filled it.
 *
 *   a = AsyncResult()
 *   def setter(): gevent.sleep(3); a.set("Hello!")
 *   def waiter(): print a.get()
 *   gevent.joinall([gevent.spawn(setter), gevent.spawn(waiter)])
 */
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static gz_result *a;

static void *setter(void *arg)
{
    (void)arg;
    gz_sleep(0.3); /* 3 s in the tutorial */
    gz_result_set(a, "Hello!");
    return NULL;
}

static void *waiter(void *arg)
{
    (void)arg;
    void *value;
    /* Blocks until the setter puts a value in; an exception set with
     * gz_result_set_exception would come back as -1 and errno. */
    if (gz_result_get(a, &value, GZ_FOREVER) == 0)
        printf("%s\n", (const char *)value);
    else
        perror("gz_result_get");
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA greenlet gets the value another puts in a gz_result 0.3 s later.\n",
               argv[0]);
        return 0;
    }
    a = gz_result_new();
    gz_greenlet *g[2] = {gz_spawn(setter, NULL), gz_spawn(waiter, NULL)};
    gz_joinall(g, 2, GZ_FOREVER);
    gz_release(g[0]);
    gz_release(g[1]);
    gz_result_free(a);
    return 0;
}
