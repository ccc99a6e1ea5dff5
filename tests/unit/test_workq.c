/*
 * test_workq.c — unit tests of the bounded worker pool (workq.c; IN-SURGE,
 * PS-IA-f: a login storm gets BW_EBUSY instead of exhausting memory):
 * work() runs on a worker thread and done() on the draining thread, the
 * max_pending bound (running jobs included), notify, and destroy with jobs
 * still queued runs every job and its done().
 */
#include "unit.h"
#include "workq.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

struct wq_job {
	struct workq_job j;      /* first: the pool hands back this pointer */
	int id;
	pthread_t work_thread;
	pthread_t done_thread;
	atomic_int worked, done;
	/* when gate is set, work() waits until *gate becomes non-zero */
	atomic_int *gate;
	atomic_int *order_slot;  /* completion order recorded by done() */
};

static atomic_int wq_done_seq;
static atomic_int wq_notified;
static atomic_int wq_running;

static void wq_work(struct workq_job *jj)
{
	struct wq_job *j = (struct wq_job *)jj;
	atomic_fetch_add(&wq_running, 1);
	j->work_thread = pthread_self();
	if (j->gate)
		while (!atomic_load(j->gate))
			usleep(1000);
	atomic_fetch_add(&j->worked, 1);
	atomic_fetch_sub(&wq_running, 1);
}

static void wq_done(struct workq_job *jj)
{
	struct wq_job *j = (struct wq_job *)jj;
	j->done_thread = pthread_self();
	atomic_fetch_add(&j->done, 1);
	if (j->order_slot)
		atomic_store(j->order_slot, atomic_fetch_add(&wq_done_seq, 1));
}

static void wq_notify(void *arg)
{
	atomic_fetch_add(&wq_notified, 1);
	if (arg)
		atomic_fetch_add((atomic_int *)arg, 1);
}

static void wq_init_job(struct wq_job *j, int id, atomic_int *gate)
{
	memset(j, 0, sizeof *j);
	j->j.work = wq_work;
	j->j.done = wq_done;
	j->id = id;
	j->gate = gate;
}

/* Drains until `want` done() calls happened or ~5 s passed. */
static size_t wq_drain_until(struct workq *q, size_t want)
{
	size_t got = 0;
	for (int i = 0; i < 5000 && got < want; i++) {
		got += workq_drain(q);
		if (got < want)
			usleep(1000);
	}
	return got;
}

TEST(create_rejects_bad_parameters)
{
	struct workq *q = (struct workq *)0x1;
	CHECK_EQ(workq_create(0, 4, NULL, NULL, &q), BW_EINVAL);
	CHECK_EQ(workq_create(-1, 4, NULL, NULL, &q), BW_EINVAL);
	CHECK_EQ(workq_create(65, 4, NULL, NULL, &q), BW_EINVAL);
	CHECK_EQ(workq_create(2, 0, NULL, NULL, &q), BW_EINVAL);
	CHECK(q == (struct workq *)0x1);   /* untouched on failure */
	workq_destroy(NULL);
}

TEST(jobs_run_and_done_on_draining_thread)
{
	struct workq *q = NULL;
	atomic_int notes = 0;
	atomic_store(&wq_notified, 0);
	CHECK_EQ(workq_create(3, 64, wq_notify, &notes, &q), 0);
	if (!q)
		return;
	enum { N = 40 };
	static struct wq_job jobs[N];
	for (int i = 0; i < N; i++) {
		wq_init_job(&jobs[i], i, NULL);
		CHECK_EQ(workq_submit(q, &jobs[i].j), 0);
	}
	CHECK_EQ(wq_drain_until(q, N), N);
	pthread_t me = pthread_self();
	for (int i = 0; i < N; i++) {
		CHECK_EQ(atomic_load(&jobs[i].worked), 1);
		CHECK_EQ(atomic_load(&jobs[i].done), 1);
		CHECK(pthread_equal(jobs[i].done_thread, me));
		CHECK(!pthread_equal(jobs[i].work_thread, me));
	}
	CHECK_EQ(workq_pending(q), 0);
	CHECK_EQ(workq_drain(q), 0);       /* nothing twice */
	/* one wake-up per finished job (the last may still be on its way) */
	for (int i = 0; i < 2000 && atomic_load(&notes) < N; i++)
		usleep(1000);
	CHECK_EQ(atomic_load(&notes), N);
	workq_destroy(q);
	for (int i = 0; i < N; i++)
		CHECK_EQ(atomic_load(&jobs[i].done), 1);
}

/* done() is never called by a worker: without drain, nothing is done. */
TEST(done_waits_for_drain)
{
	struct workq *q = NULL;
	CHECK_EQ(workq_create(2, 8, NULL, NULL, &q), 0);
	if (!q)
		return;
	struct wq_job a, b;
	wq_init_job(&a, 1, NULL);
	wq_init_job(&b, 2, NULL);
	CHECK_EQ(workq_submit(q, &a.j), 0);
	CHECK_EQ(workq_submit(q, &b.j), 0);
	for (int i = 0; i < 2000 && (atomic_load(&a.worked) + atomic_load(&b.worked)) < 2; i++)
		usleep(1000);
	CHECK_EQ(atomic_load(&a.worked) + atomic_load(&b.worked), 2);
	usleep(20 * 1000);
	CHECK_EQ(atomic_load(&a.done) + atomic_load(&b.done), 0);
	CHECK_EQ(workq_pending(q), 2);    /* finished but not drained still count */
	CHECK_EQ(wq_drain_until(q, 2), 2);
	CHECK_EQ(workq_pending(q), 0);
	workq_destroy(q);
}

TEST(max_pending_bound)
{
	struct workq *q = NULL;
	CHECK_EQ(workq_create(2, 4, NULL, NULL, &q), 0);
	if (!q)
		return;
	atomic_int gate = 0;
	struct wq_job jobs[8];
	for (int i = 0; i < 8; i++)
		wq_init_job(&jobs[i], i, &gate);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(workq_submit(q, &jobs[i].j), 0);
	/* two running (blocked on the gate) + two queued = the bound */
	for (int i = 0; i < 2000 && atomic_load(&wq_running) < 2; i++)
		usleep(1000);
	CHECK_EQ(workq_pending(q), 4);
	CHECK_EQ(workq_submit(q, &jobs[4].j), BW_EBUSY);
	CHECK_EQ(workq_submit(q, &jobs[5].j), BW_EBUSY);
	CHECK_EQ(workq_pending(q), 4);
	/* finished but undrained jobs still hold their place */
	atomic_store(&gate, 1);
	for (int i = 0; i < 2000; i++) {
		int w = 0;
		for (int k = 0; k < 4; k++)
			w += atomic_load(&jobs[k].worked);
		if (w == 4)
			break;
		usleep(1000);
	}
	CHECK_EQ(workq_submit(q, &jobs[4].j), BW_EBUSY);
	CHECK_EQ(wq_drain_until(q, 4), 4);
	/* room again */
	CHECK_EQ(workq_submit(q, &jobs[4].j), 0);
	CHECK_EQ(workq_submit(q, &jobs[5].j), 0);
	CHECK_EQ(wq_drain_until(q, 2), 2);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(atomic_load(&jobs[i].done), 1);
	for (int i = 6; i < 8; i++)
		CHECK_EQ(atomic_load(&jobs[i].worked), 0);
	workq_destroy(q);
}

TEST(destroy_runs_queued_jobs_and_done)
{
	struct workq *q = NULL;
	CHECK_EQ(workq_create(1, 16, NULL, NULL, &q), 0);
	if (!q)
		return;
	atomic_int gate = 0;
	struct wq_job jobs[10];
	for (int i = 0; i < 10; i++) {
		wq_init_job(&jobs[i], i, i == 0 ? &gate : NULL);
		CHECK_EQ(workq_submit(q, &jobs[i].j), 0);
	}
	/* job 0 blocks the single worker; nine are queued */
	for (int i = 0; i < 2000 && atomic_load(&wq_running) < 1; i++)
		usleep(1000);
	CHECK_EQ(atomic_load(&jobs[9].worked), 0);
	atomic_store(&gate, 1);
	workq_destroy(q);
	pthread_t me = pthread_self();
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(atomic_load(&jobs[i].worked), 1);
		CHECK_EQ(atomic_load(&jobs[i].done), 1);
		CHECK(pthread_equal(jobs[i].done_thread, me));
	}
}

/* The single worker runs jobs in submission order; drain hands them back
 * in completion order. */
TEST(fifo_and_completion_order)
{
	struct workq *q = NULL;
	CHECK_EQ(workq_create(1, 16, NULL, NULL, &q), 0);
	if (!q)
		return;
	atomic_int order[8];
	struct wq_job jobs[8];
	atomic_store(&wq_done_seq, 0);
	for (int i = 0; i < 8; i++) {
		atomic_store(&order[i], -1);
		wq_init_job(&jobs[i], i, NULL);
		jobs[i].order_slot = &order[i];
		CHECK_EQ(workq_submit(q, &jobs[i].j), 0);
	}
	CHECK_EQ(wq_drain_until(q, 8), 8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(atomic_load(&order[i]), i);
	workq_destroy(q);
}

/* Many submitters racing the bound never exceed it and lose no job. */
struct wq_racer { struct workq *q; struct wq_job *jobs; int n; atomic_int *accepted; };

static void *wq_race(void *arg)
{
	struct wq_racer *r = arg;
	for (int i = 0; i < r->n; i++)
		if (workq_submit(r->q, &r->jobs[i].j) == 0)
			atomic_fetch_add(r->accepted, 1);
	return NULL;
}

TEST(concurrent_submit_respects_bound)
{
	struct workq *q = NULL;
	CHECK_EQ(workq_create(4, 32, NULL, NULL, &q), 0);
	if (!q)
		return;
	enum { T = 4, PER = 200 };
	static struct wq_job jobs[T][PER];
	atomic_int accepted = 0;
	struct wq_racer rs[T];
	pthread_t th[T];
	for (int t = 0; t < T; t++) {
		for (int i = 0; i < PER; i++)
			wq_init_job(&jobs[t][i], t * PER + i, NULL);
		rs[t] = (struct wq_racer){ q, jobs[t], PER, &accepted };
		pthread_create(&th[t], NULL, wq_race, &rs[t]);
	}
	size_t maxp = 0, drained = 0;
	for (int k = 0; k < 200; k++) {
		size_t p = workq_pending(q);
		if (p > maxp)
			maxp = p;
		drained += workq_drain(q);
		usleep(100);
	}
	for (int t = 0; t < T; t++)
		pthread_join(th[t], NULL);
	drained += wq_drain_until(q, (size_t)atomic_load(&accepted) - drained);
	CHECK(maxp <= 32);
	CHECK_EQ(drained, atomic_load(&accepted));
	int worked = 0, done = 0;
	for (int t = 0; t < T; t++)
		for (int i = 0; i < PER; i++) {
			worked += atomic_load(&jobs[t][i].worked);
			done += atomic_load(&jobs[t][i].done);
		}
	CHECK_EQ(worked, atomic_load(&accepted));
	CHECK_EQ(done, atomic_load(&accepted));
	workq_destroy(q);
}

int main(void)
{
	bw_log_level = BW_LOG_ERR;
	RUN(create_rejects_bad_parameters);
	RUN(jobs_run_and_done_on_draining_thread);
	RUN(done_waits_for_drain);
	RUN(max_pending_bound);
	RUN(destroy_runs_queued_jobs_and_done);
	RUN(fifo_and_completion_order);
	RUN(concurrent_submit_respects_bound);
	return UNIT_DONE();
}
