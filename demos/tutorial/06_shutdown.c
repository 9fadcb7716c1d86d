/* Program shutdown: on SIGQUIT, gz_shutdown kills every greenlet, so a
 * program whose greenlets would run forever still ends cleanly.
 *
 *   gevent.signal(signal.SIGQUIT, gevent.shutdown)
 *   thread = gevent.spawn(run_forever)
 *   thread.join()
 *
 * So that it can run unattended, the demo sends itself SIGQUIT after 0.1 s;
 * with --wait it waits for a real one (kill -QUIT <pid>, or Ctrl-\).
 */
#include <errno.h>
#include <gzmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void *run_forever(void *arg)
{
    (void)arg;
    if (gz_sleep(1000) != 0 && errno == ECANCELED)
        printf("run_forever: killed in its sleep (ECANCELED)\n");
    return NULL;
}

/* Runs in a new greenlet, so it may block; gz_shutdown kills the others
 * and lets them end. */
static void on_sigquit(int signum, void *arg)
{
    (void)signum;
    (void)arg;
    printf("SIGQUIT: shutting down\n");
    gz_shutdown();
}

static void *send_sigquit(void *arg)
{
    (void)arg;
    gz_sleep(0.1);
    printf("sending myself SIGQUIT\n");
    kill(getpid(), SIGQUIT);
    return NULL;
}

int main(int argc, char **argv)
{
    bool wait_for_real = argc > 1 && strcmp(argv[1], "--wait") == 0;
    if (argc > 1 && !wait_for_real) {
        printf("usage: %s [--wait]\nOn SIGQUIT gz_shutdown ends a greenlet that runs forever.\n",
               argv[0]);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    if (gz_signal(SIGQUIT, on_sigquit, NULL) != 0) {
        perror("gz_signal");
        return 1;
    }
    gz_greenlet *thread = gz_spawn(run_forever, NULL);
    gz_greenlet *sender = NULL;
    if (wait_for_real) {
        printf("pid %d: send me SIGQUIT (kill -QUIT %d, or Ctrl-\\)\n",
               (int)getpid(), (int)getpid());
        fflush(stdout);
    } else {
        sender = gz_spawn(send_sigquit, NULL);
    }

    /* Main is never killed; its blocked call returns ECANCELED once the
     * other greenlets have ended. */
    if (gz_join(thread, GZ_FOREVER) != 0 && errno == ECANCELED)
        printf("main: join returned ECANCELED\n");
    printf("thread ready: %s, killed: %s\n", gz_ready(thread) ? "True" : "False",
           gz_killed(thread) ? "True" : "False");

    gz_signal_cancel(SIGQUIT);
    gz_release(thread);
    gz_release(sender);
    return 0;
}
