/* gzmq-mdbroker: a Majordomo (rfc 7/MDP) broker.
 *
 * Clients ask for a service by name; workers offering it register; the
 * broker hands each request to the longest-idle worker of its service,
 * heartbeats the workers and forgets one that falls silent. mmi.service
 * (rfc 8/MMI) answers "200" when a service has workers, else "404". Runs
 * until SIGINT or SIGTERM, then prints how many malformed messages it
 * dropped and exits 0. */
#include <gzmq.h>
#include <stdio.h>

#include "common/cli.h"

#define PROG "gzmq-mdbroker"

int main(int argc, char **argv)
{
    const char *endpoint = NULL;
    long heartbeat_ms = 0, liveness = 0;
    cli_opt opts[] = {
        {"--bind", "ENDPOINT", CLI_STRING, &endpoint, true, 0, 0,
         "where clients and workers connect, e.g. tcp://*:5555"},
        {"--heartbeat-ms", "MS", CLI_NUMBER, &heartbeat_ms, false, 1, 3600000,
         "heartbeat interval (default: $GZ_MDP_HEARTBEAT or 2500)"},
        {"--liveness", "N", CLI_NUMBER, &liveness, false, 1, 1000,
         "heartbeats a worker may miss (default: $GZ_MDP_LIVENESS or 3)"},
    };
    cli_parse(argc, argv, PROG, "A Majordomo (7/MDP) broker with mmi.service.", opts, 3);

    void *ctx = gz_zmq_context();
    gz_mdp_broker *b = gz_mdp_broker_new(endpoint);
    if (!b)
        cli_usage_error(PROG, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
    if (heartbeat_ms || liveness) {
        double interval = heartbeat_ms ? (double)heartbeat_ms / 1000.0 : 2.5;
        if (gz_mdp_broker_set_heartbeat(b, interval, liveness ? (int)liveness : 3) != 0)
            cli_usage_error(PROG, "bad heartbeat settings");
    }
    printf(PROG ": bound to %s\n", gz_mdp_broker_endpoint(b));
    fflush(stdout);
    if (cli_stop_on_signals(ctx) != 0) {
        perror(PROG ": signals");
        return 1;
    }
    gz_greenlet *g = gz_mdp_broker_start(b);
    if (!g) {
        perror(PROG);
        return 1;
    }
    gz_join(g, GZ_FOREVER); /* until a signal shuts the context down */
    gz_release(g);
    printf(PROG ": %zu malformed messages dropped\n", gz_mdp_broker_dropped(b));
    gz_mdp_broker_destroy(b);
    cli_signals_done();
    zmq_ctx_term(ctx);
    return 0;
}
