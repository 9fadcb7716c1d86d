/* The tutorial's determinism example: greenlets are deterministic, so four
 * runs of imap_unordered over a pool of 10 give the same order every time
 * (a process pool would not). Same input, same output.
 *
 *   def echo(i): time.sleep(0.001); return i
 *   p = Pool(10)
 *   run1 = [a for a in p.imap_unordered(echo, xrange(10))]  ... run4
 *   print(run1 == run2 == run3 == run4)
 */
#include <gzmq.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { N = 10, RUNS = 4 };

static void *echo(void *i)
{
    gz_sleep(0.001); /* a green sleep: the others run meanwhile */
    return i;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nFour runs of gz_pool_imap_unordered on a pool of 10 "
               "compare equal.\n", argv[0]);
        return 0;
    }
    gz_pool *p = gz_pool_new(10);
    void *in[N];
    for (intptr_t i = 0; i < N; i++)
        in[i] = (void *)i;
    intptr_t run[RUNS][N];
    for (int r = 0; r < RUNS; r++) {
        gz_imap *it = gz_pool_imap_unordered(p, echo, in, N);
        void *v;
        /* results in completion order: -1 EPIPE after the last one */
        for (int k = 0; gz_imap_next(it, &v, GZ_FOREVER) == 0; k++)
            run[r][k] = (intptr_t)v;
        gz_imap_free(it);
    }
    bool same = true;
    for (int r = 1; r < RUNS; r++)
        same = same && memcmp(run[0], run[r], sizeof run[0]) == 0;
    printf("%s\n", same ? "True" : "False");
    gz_pool_free(p);
    return 0;
}
