/*
 * workq.c — bounded worker pool (IN-SURGE, PS-IA-f).  See workq.h.
 * A mutex-protected FIFO of pending jobs and a LIFO of finished ones; the
 * pending count includes running jobs so the bound covers memory in flight.
 */
#include "workq.h"
#include "util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define WORKQ_THREADS_MAX 64

struct workq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct workq_job *head, *tail;   /* pending */
	struct workq_job *done;          /* finished, not yet drained */
	size_t in_flight, max_pending;
	bool stop;
	void (*notify)(void *);
	void *notify_arg;
	int nthreads;
	pthread_t threads[WORKQ_THREADS_MAX];
};

static void *worker(void *arg)
{
	struct workq *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->head && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->head && q->stop)
			break;
		struct workq_job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);
		j->work(j);
		pthread_mutex_lock(&q->mu);
		j->next = q->done;
		q->done = j;
		pthread_mutex_unlock(&q->mu);
		if (q->notify)
			q->notify(q->notify_arg);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int workq_create(int threads, size_t max_pending, void (*notify)(void *arg),
                 void *notify_arg, struct workq **out)
{
	if (threads < 1 || threads > WORKQ_THREADS_MAX || max_pending < 1)
		return BW_EINVAL;
	struct workq *q = calloc(1, sizeof *q);
	if (!q)
		return BW_ENOMEM;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->max_pending = max_pending;
	q->notify = notify;
	q->notify_arg = notify_arg;
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&q->threads[i], NULL, worker, q) != 0) {
			q->nthreads = i;
			workq_destroy(q);
			return BW_ENOMEM;
		}
	}
	q->nthreads = threads;
	*out = q;
	return 0;
}

int workq_submit(struct workq *q, struct workq_job *j)
{
	pthread_mutex_lock(&q->mu);
	if (q->stop || q->in_flight >= q->max_pending) {
		pthread_mutex_unlock(&q->mu);
		return BW_EBUSY;
	}
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->in_flight++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

size_t workq_drain(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	struct workq_job *list = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->mu);
	/* reverse to completion order */
	struct workq_job *rev = NULL;
	while (list) {
		struct workq_job *n = list->next;
		list->next = rev;
		rev = list;
		list = n;
	}
	size_t count = 0;
	while (rev) {
		struct workq_job *n = rev->next;
		pthread_mutex_lock(&q->mu);
		q->in_flight--;
		pthread_mutex_unlock(&q->mu);
		rev->done(rev);
		rev = n;
		count++;
	}
	return count;
}

size_t workq_pending(struct workq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->in_flight;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void workq_destroy(struct workq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	workq_drain(q);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
