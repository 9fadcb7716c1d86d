/* What gzmq-pub and gzmq-sub agree on: topic lists and the messages.
 *
 * On the PUB socket, one frame each:
 *   "TOPIC SEQ TIME VALUE"  an update: SEQ counts from 1 per topic, TIME is
 *                           the publisher's wall clock (seconds, for
 *                           --max-lag), VALUE the topic's new value
 *   "TOPIC HELLO"           a probe, sent while --sync waits for subscribers
 *   "TOPIC END SEQ"         the stream is over; SEQ was the topic's last
 * A subscriber subscribes to "TOPIC " (with the space): ZeroMQ filters by
 * prefix, and topic "a" must not receive topic "ab".
 *
 * --sync (REQ/REP): the subscriber sends "READY", the publisher answers "GO".
 * --snapshot (ROUTER): the subscriber sends "SNAPSHOT"; the answer is one
 * frame, "SNAPSHOT K\n" and K lines "TOPIC SEQ VALUE\n", the state after
 * update SEQ of each topic that had one. */
#ifndef GZMQ_DEMO_PUBSUB_H
#define GZMQ_DEMO_PUBSUB_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cli.h"

#define PS_TOPIC_MAX 64   /* bytes in a topic name */
#define PS_TOPICS_MAX 64  /* topics in one list */
#define PS_VALUE_MAX 16   /* bytes in a value */
#define PS_MSG_MAX 256    /* bytes in a PUB message */

typedef char ps_topic[PS_TOPIC_MAX + 1];

static inline int ps_topic_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Split the comma-separated LIST of option OPT into TOPICS (sorted, so that
 * both programs print their state in the same order); the count. Exits 2
 * with a message on an empty, overlong, duplicate or blank-containing
 * topic, or more than PS_TOPICS_MAX. */
static inline size_t ps_topics(const char *prog, const char *opt, const char *list,
                               ps_topic topics[PS_TOPICS_MAX])
{
    size_t n = 0;
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 0)
            cli_usage_error(prog, "%s: empty topic in '%s'", opt, list);
        if (len > PS_TOPIC_MAX)
            cli_usage_error(prog, "%s: topic '%.*s' is longer than %d bytes", opt,
                            (int)len, p, PS_TOPIC_MAX);
        if (n == PS_TOPICS_MAX)
            cli_usage_error(prog, "%s: more than %d topics", opt, PS_TOPICS_MAX);
        memcpy(topics[n], p, len);
        topics[n][len] = 0;
        if (strpbrk(topics[n], " \t\r\n"))
            cli_usage_error(prog, "%s: topic '%s' contains a blank", opt, topics[n]);
        n++;
        if (!p[len])
            break;
        p += len + 1;
    }
    qsort(topics, n, sizeof *topics, ps_topic_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(topics[i - 1], topics[i]) == 0)
            cli_usage_error(prog, "%s: topic '%s' given twice", opt, topics[i]);
    return n;
}

/* Index of TOPIC (LEN bytes) in TOPICS, or -1. */
static inline int ps_find(const ps_topic *topics, size_t n, const char *topic, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(topics[i]) == len && memcmp(topics[i], topic, len) == 0)
            return (int)i;
    return -1;
}

/* Wall-clock seconds: publisher and subscriber may be different machines. */
static inline double ps_wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#endif
