/* Greenlet state: a winner returns a value, a loser fails with gz_fail (the
 * C counterpart of raising an exception). Neither failure nor success
 * reaches the caller of gz_joinall; each greenlet's state says what
 * happened: started, value, ready, successful, exception.
 *
 * Booleans and NULL print as the tutorial's Python does: True, False, None.
 */
#include <errno.h>
#include <gzmq.h>
#include <stdio.h>
#include <string.h>

static void *win(void *arg)
{
    (void)arg;
    return "You win!";
}

static void *fail(void *arg)
{
    (void)arg;
    gz_fail(EIO, "You fail at failing.");
}

static const char *py_bool(bool b) { return b ? "True" : "False"; }

static const char *py_str(const void *s) { return s ? s : "None"; }

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        printf("usage: %s\nA winner and a loser: started, value, ready, successful, exception.\n",
               argv[0]);
        return 0;
    }
    gz_greenlet *winner = gz_spawn(win, NULL);
    gz_greenlet *loser = gz_spawn(fail, NULL);

    printf("%s\n", py_bool(gz_started(winner)));
    printf("%s\n", py_bool(gz_started(loser)));

    /* The loser's failure does not make joinall fail: both have ended. */
    gz_greenlet *both[2] = {winner, loser};
    if (gz_joinall(both, 2, GZ_FOREVER) != 2)
        printf("This will never be reached!\n");

    printf("%s\n", py_str(gz_value(winner)));
    printf("%s\n", py_str(gz_value(loser)));

    printf("%s\n", py_bool(gz_ready(winner)));
    printf("%s\n", py_bool(gz_ready(loser)));

    printf("%s\n", py_bool(gz_successful(winner)));
    printf("%s\n", py_bool(gz_successful(loser)));

    /* The failure stays inside the greenlet; reading it counts as observing
     * it, so it is not reported on stderr when the loser is released.
     * gz_get(loser, ...) would return -1 with errno = EIO instead. */
    const gz_error *e = gz_exception(loser);
    printf("%s\n", e ? e->message : "None");

    gz_release(winner);
    gz_release(loser);
    return 0;
}
