/* The tutorial's first example: two greenlets switch explicitly with
 * gz_sleep(0), gevent.sleep(0)'s counterpart.
 *
 *   gevent.joinall([gevent.spawn(foo), gevent.spawn(bar)])
 */
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static void *foo(void *arg)
{
    (void)arg;
    printf("Running in foo\n");
    gz_sleep(0);
    printf("Explicit context switch to foo again\n");
    return NULL;
}

static void *bar(void *arg)
{
    (void)arg;
    printf("Explicit context to bar\n");
    gz_sleep(0);
    printf("Implicit context switch back to bar\n");
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nTwo greenlets switching explicitly with gz_sleep(0).\n",
               argv[0]);
        return 0;
    }
    gz_greenlet *g[2] = {gz_spawn(foo, NULL), gz_spawn(bar, NULL)};
    gz_joinall(g, 2, GZ_FOREVER);
    gz_release(g[0]);
    gz_release(g[1]);
    return 0;
}
