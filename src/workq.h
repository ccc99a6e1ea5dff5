/*
 * workq.h — a bounded worker pool for work that would stall the event loop
 * (Argon2id, later: large-file encryption, scanning, exports).  IN-SURGE,
 * PS-IA-f: a login storm fills the queue and gets BW_EBUSY (HTTP 429)
 * instead of exhausting memory or blocking the loop.
 *
 * work() runs on a worker thread; done() runs on the thread that calls
 * workq_drain() (the event loop), after which the job belongs to the caller
 * again.  The notify callback wakes that thread (lws_cancel_service).
 */
#ifndef BW_WORKQ_H
#define BW_WORKQ_H

#include <stddef.h>

struct workq_job {
	void (*work)(struct workq_job *j);   /* worker thread */
	void (*done)(struct workq_job *j);   /* loop thread */
	struct workq_job *next;
};

struct workq;

int workq_create(int threads, size_t max_pending, void (*notify)(void *arg),
                 void *notify_arg, struct workq **out);
/* Queues a job; BW_EBUSY when max_pending jobs are queued or running. */
int workq_submit(struct workq *q, struct workq_job *j);
/* Runs done() of every finished job; returns how many. */
size_t workq_drain(struct workq *q);
size_t workq_pending(struct workq *q);
/* Stops the workers after the queued jobs ran; runs the remaining done(). */
void workq_destroy(struct workq *q);

#endif
