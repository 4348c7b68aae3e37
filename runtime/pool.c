/* The worker pool of kernels.h: n_threads - 1 pthreads plus the caller.
 *
 * DESIGN: one run at a time (the pool belongs to one run context, used by
 * one thread). mrt__pool_run() waits until no worker is still inside the
 * previous job, publishes the new one under the mutex and bumps the
 * generation; workers wake on `wake`, copy the job under the mutex, and then
 * every thread (caller included) claims task numbers from an atomic counter
 * until they run out. The thread that finishes the last task, and the last
 * worker to leave a job, signal `done`.
 *
 * Waiting: a decoder step is dozens of runs a few hundred microseconds
 * apart, and a futex wake-up costs tens of microseconds. So a waiting
 * thread (a worker between runs, the caller for the last task) first polls
 * for up to POOL_SPIN_NS with the pause instruction, then sleeps on the
 * condition variable. An idle pool costs no CPU after that. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"

struct mrt__pool {
	int n_threads; /* including the caller */
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* workers: a new generation or stop */
	pthread_cond_t done; /* caller: all tasks finished */
	atomic_ulong generation; /* written under mu, polled without it */
	int stop;
	int active; /* workers inside a job (under mu) */
	/* the current job */
	mrt__task_fn fn;
	void *arg;
	int n_tasks;
	atomic_int next;     /* next task number to claim */
	atomic_int finished; /* tasks completed */
};

#define POOL_SPIN_NS 200000

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int moved_on(mrt__pool *pool, unsigned long seen)
{
	return atomic_load_explicit(&pool->generation, memory_order_acquire) != seen;
}

static int all_finished(mrt__pool *pool, unsigned long n_tasks)
{
	return (unsigned long)atomic_load_explicit(&pool->finished, memory_order_acquire) >= n_tasks;
}

/* Polls ready(pool, arg) until it holds, or (returns anyway) after
 * POOL_SPIN_NS; the clock is read every 32 polls. */
static void spin(mrt__pool *pool, int (*ready)(mrt__pool *, unsigned long), unsigned long arg)
{
	int64_t t0 = 0;
	for (unsigned i = 0; !ready(pool, arg); i++) {
		cpu_relax();
		if ((i & 31) == 31) {
			int64_t t = mono_ns();
			if (t0 == 0)
				t0 = t;
			else if (t - t0 > POOL_SPIN_NS)
				return;
		}
	}
}

/* Claim and run tasks until none are left. Returns when the counter is
 * exhausted; other threads may still be running their last task. */
static void pool_work(mrt__pool *pool, mrt__task_fn fn, void *arg, int n)
{
	for (;;) {
		int t = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
		if (t >= n)
			return;
		fn(arg, t, n);
		if (atomic_fetch_add_explicit(&pool->finished, 1, memory_order_acq_rel) + 1 == n) {
			pthread_mutex_lock(&pool->mu);
			pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->mu);
		}
	}
}

static void *pool_main(void *p)
{
	mrt__pool *pool = p;
	unsigned long seen = 0;
	pthread_mutex_lock(&pool->mu);
	for (;;) {
		if (!pool->stop && pool->generation == seen) {
			pthread_mutex_unlock(&pool->mu);
			spin(pool, moved_on, seen);
			pthread_mutex_lock(&pool->mu);
		}
		while (!pool->stop && pool->generation == seen)
			pthread_cond_wait(&pool->wake, &pool->mu);
		if (pool->stop)
			break;
		seen = pool->generation;
		mrt__task_fn fn = pool->fn;
		void *arg = pool->arg;
		int n = pool->n_tasks;
		pool->active++;
		pthread_mutex_unlock(&pool->mu);
		pool_work(pool, fn, arg, n);
		pthread_mutex_lock(&pool->mu);
		if (--pool->active == 0)
			pthread_cond_signal(&pool->done);
	}
	pthread_mutex_unlock(&pool->mu);
	return NULL;
}

mrt__pool *mrt__pool_new(int n_threads)
{
	if (n_threads < 1)
		return NULL;
	mrt__pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->n_threads = 1;
	if (pthread_mutex_init(&pool->mu, NULL))
		goto fail_mu;
	if (pthread_cond_init(&pool->wake, NULL))
		goto fail_wake;
	if (pthread_cond_init(&pool->done, NULL))
		goto fail_done;
	pool->threads = calloc((size_t)n_threads, sizeof(pthread_t));
	if (!pool->threads)
		goto fail_threads;
	for (int i = 1; i < n_threads; i++) {
		if (pthread_create(&pool->threads[i], NULL, pool_main, pool))
			goto fail_create;
		pool->n_threads++;
	}
	return pool;

fail_create:
	mrt__pool_free(pool); /* joins the threads started so far */
	return NULL;
fail_threads:
	pthread_cond_destroy(&pool->done);
fail_done:
	pthread_cond_destroy(&pool->wake);
fail_wake:
	pthread_mutex_destroy(&pool->mu);
fail_mu:
	free(pool);
	return NULL;
}

void mrt__pool_free(mrt__pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	pool->stop = 1;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);
	for (int i = 1; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->mu);
	free(pool);
}

int mrt__pool_size(const mrt__pool *pool)
{
	return pool ? pool->n_threads : 1;
}

void mrt__pool_run(mrt__pool *pool, int n_tasks, mrt__task_fn fn, void *arg)
{
	if (n_tasks <= 0)
		return;
	if (!pool || pool->n_threads == 1 || n_tasks == 1) {
		for (int t = 0; t < n_tasks; t++)
			fn(arg, t, n_tasks);
		return;
	}
	pthread_mutex_lock(&pool->mu);
	while (pool->active > 0) /* a late worker may still be leaving the last job */
		pthread_cond_wait(&pool->done, &pool->mu);
	pool->fn = fn;
	pool->arg = arg;
	pool->n_tasks = n_tasks;
	atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
	atomic_store_explicit(&pool->finished, 0, memory_order_relaxed);
	pool->generation++;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);

	pool_work(pool, fn, arg, n_tasks);

	spin(pool, all_finished, (unsigned long)n_tasks);
	pthread_mutex_lock(&pool->mu);
	while (atomic_load_explicit(&pool->finished, memory_order_acquire) < n_tasks)
		pthread_cond_wait(&pool->done, &pool->mu);
	pthread_mutex_unlock(&pool->mu);
}
