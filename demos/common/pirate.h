/* The timing of the pipeline's --reliable mode (Paranoid Pirate, zguide
 * chapter 4), shared by gzmq-ventilator, gzmq-worker and gzmq-sink. The
 * protocol itself is described in the README ("Reliable pipeline"). */
#ifndef GZMQ_DEMO_PIRATE_H
#define GZMQ_DEMO_PIRATE_H

/* Seconds between heartbeats, sent both ways whatever else is sent. */
#define PIRATE_HEARTBEAT 1.0
/* Heartbeats a peer may miss: silent for LIVENESS * HEARTBEAT seconds, it
 * is dead. */
#define PIRATE_LIVENESS 3
#define PIRATE_SILENCE (PIRATE_HEARTBEAT * PIRATE_LIVENESS)
/* A worker that lost the ventilator waits this long before it reconnects,
 * doubling each time up to the maximum. */
#define PIRATE_BACKOFF_MIN 1.0
#define PIRATE_BACKOFF_MAX 32.0
/* A task not confirmed by the sink this long after its work should have
 * ended is dispatched again even though its worker still heartbeats (its
 * result or the sink's acknowledgement was lost). */
#define PIRATE_TASK_GRACE 10.0

#endif
