/* The worker pool of kernels.h: n_threads - 1 pthreads plus the caller.
 *
 * DESIGN: one run at a time (the pool belongs to one run context, used by
 * one thread). A run is published through one 64-bit ticket: the run's
 * generation in the high half, the next unclaimed task number in the low
 * half. mrt__pool_run() closes the ticket, writes the job (fn, arg,
 * n_tasks), then opens the ticket at (generation + 1, task 0). Every
 * thread, caller included, reads the job after loading the ticket and
 * claims a task by a compare-and-swap of the ticket it loaded to the next
 * task number; the swap fails if the ticket changed in between, so a task
 * is never run with another run's job. No lock is taken on the way in or
 * out of a run: a mutex round trip (and a futex sleep when two threads met
 * on it) cost 2-3 us a run, and a decoder step makes dozens of runs; this
 * way an empty run of 2 tasks on 2 threads takes 0.75 us.
 *
 * Waiting: a decoder step's runs come a few microseconds to a few hundred
 * apart, and a futex wake-up costs tens of microseconds. So a waiting
 * thread (a worker between runs, the caller for the last task) first polls
 * for up to POOL_SPIN_NS with the pause instruction (yielding the CPU
 * when a thread it may wait for shares it, see spin), then sleeps on a
 * condition variable, announcing it in `sleepers` (workers) or
 * `caller_sleeps`; the other side takes the mutex only when it sees one.
 * Both sides use sequentially consistent order for the flag and the value
 * it waits for, so one of them always sees the other. An idle pool costs no
 * CPU after the polling. */
#define _GNU_SOURCE /* sched_getcpu */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

#define TASK_MASK 0xffffffffu
#define POOL_SPIN_NS 200000

struct mrt__pool {
	int n_threads; /* including the caller */
	pthread_t *threads;
	uint32_t generation; /* the caller's count of runs */
	/* the current job: written only while no task of the run before is
	 * left unfinished; atomics (relaxed) because a late thread may read
	 * them while they change and then fail its claim */
	_Atomic(mrt__task_fn) fn;
	_Atomic(void *) arg;
	atomic_int n_tasks;
	_Alignas(64) atomic_uint_least64_t ticket; /* generation << 32 | next task */
	_Alignas(64) atomic_int finished;          /* tasks of this run completed */
	_Alignas(64) pthread_mutex_t mu;           /* only for sleeping */
	pthread_cond_t wake;                       /* workers: a new ticket or stop */
	pthread_cond_t done; /* caller: all tasks finished */
	atomic_int sleepers; /* workers asleep on wake (or about to be) */
	atomic_int caller_sleeps; /* the caller asleep on done (or about to be) */
	atomic_int stop;
	atomic_int started; /* workers numbered so far */
	atomic_int *cpu;    /* the CPU each thread (0: the caller) last ran on */
	int n_cpu;          /* entries of cpu: set before any worker starts */
};

static _Thread_local const mrt__pool *thread_pool; /* the pool of a worker */
static _Thread_local int thread_number;

int mrt__pool_thread(const mrt__pool *pool)
{
	return pool && thread_pool == pool ? thread_number : 0;
}

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

static int moved_on(mrt__pool *pool, uint64_t seen)
{
	return atomic_load_explicit(&pool->ticket, memory_order_acquire) != seen ||
	       atomic_load_explicit(&pool->stop, memory_order_relaxed);
}

static int all_finished(mrt__pool *pool, uint64_t n_tasks)
{
	return (uint64_t)atomic_load_explicit(&pool->finished, memory_order_acquire) >= n_tasks;
}

/* Another thread of the pool last ran on this thread's CPU (noted here,
 * and by the others as they wait). */
static int shares_cpu(const mrt__pool *pool, int me)
{
	int c = sched_getcpu();
	atomic_store_explicit(&pool->cpu[me], c, memory_order_relaxed);
	for (int t = 0; t < pool->n_cpu; t++) /* (n_threads grows as workers start) */
		if (t != me && atomic_load_explicit(&pool->cpu[t], memory_order_relaxed) == c)
			return 1;
	return 0;
}

/* Polls ready(pool, arg) until it holds, or (returns 0) after
 * POOL_SPIN_NS; the clock is read every 32 polls. The thread yields its
 * CPU at those reads when another thread of the pool last ran on it: on a
 * busy machine Linux may put the caller and a worker on one CPU (in
 * modeld, under HTTP load, 20 context switches a token), and a thread
 * polling there only keeps the one it waits for from running. With a busy
 * loop beside it, one 110M Q4_K_M stream ran 1.26x the tokens/s of pure
 * polling. Yielding after some time of waiting as well (5 or 20 us) gained
 * a little more there (1.30-1.42x), but a quiet machine then made 17-26
 * thousand sched_yield calls in an 8-stream run of 64 steps (about 1.2 us
 * each on this VM), where the CPU test makes none. */
static int spin(mrt__pool *pool, int (*ready)(mrt__pool *, uint64_t), uint64_t arg)
{
	int64_t t0 = 0;
	int me = thread_pool == pool ? thread_number : 0;
	for (unsigned i = 0; !ready(pool, arg); i++) {
		cpu_relax();
		if ((i & 31) == 31) {
			int64_t t = mono_ns();
			if (t0 == 0)
				t0 = t;
			else if (t - t0 > POOL_SPIN_NS)
				return 0;
			if (shares_cpu(pool, me))
				sched_yield();
		}
	}
	return 1;
}

/* Claim and run tasks of the run whose ticket is t until none are left
 * (or the run changed); returns the last ticket seen, which the caller of
 * pool_work waits to change. */
static uint64_t pool_work(mrt__pool *pool, uint64_t t)
{
	for (;;) {
		mrt__task_fn fn = atomic_load_explicit(&pool->fn, memory_order_relaxed);
		void *arg = atomic_load_explicit(&pool->arg, memory_order_relaxed);
		int n = atomic_load_explicit(&pool->n_tasks, memory_order_relaxed);
		/* pairs with the release fence of mrt__pool_run: a job field
		 * already rewritten means the claim below sees the ticket moved */
		atomic_thread_fence(memory_order_acquire);
		uint32_t task = (uint32_t)(t & TASK_MASK);
		if (task >= (uint32_t)n)
			return t;
		/* acq_rel: the job's loads above happen before the claim */
		if (!atomic_compare_exchange_weak_explicit(
		        &pool->ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
			continue; /* t now holds the current ticket */
		fn(arg, (int)task, n);
		t++;
		if (atomic_fetch_add_explicit(&pool->finished, 1, memory_order_seq_cst) + 1 == n &&
		    atomic_load_explicit(&pool->caller_sleeps, memory_order_seq_cst)) {
			pthread_mutex_lock(&pool->mu);
			pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->mu);
		}
	}
}

static void *pool_main(void *p)
{
	mrt__pool *pool = p;
	uint64_t seen = 0; /* no run yet: generation 0 has no tasks */
	thread_pool = pool;
	thread_number = atomic_fetch_add_explicit(&pool->started, 1, memory_order_relaxed) + 1;
	for (;;) {
		if (!spin(pool, moved_on, seen)) {
			pthread_mutex_lock(&pool->mu);
			atomic_fetch_add_explicit(&pool->sleepers, 1, memory_order_seq_cst);
			while (!atomic_load_explicit(&pool->stop, memory_order_seq_cst) &&
			       atomic_load_explicit(&pool->ticket, memory_order_seq_cst) == seen)
				pthread_cond_wait(&pool->wake, &pool->mu);
			atomic_fetch_sub_explicit(&pool->sleepers, 1, memory_order_relaxed);
			pthread_mutex_unlock(&pool->mu);
		}
		if (atomic_load_explicit(&pool->stop, memory_order_acquire))
			return NULL;
		seen = pool_work(pool, atomic_load_explicit(&pool->ticket, memory_order_acquire));
	}
}

mrt__pool *mrt__pool_new(int n_threads)
{
	if (n_threads < 1)
		return NULL;
	size_t size = (sizeof(mrt__pool) + 63) / 64 * 64;
	mrt__pool *pool = aligned_alloc(64, size); /* the ticket's own cache line */
	if (!pool)
		return NULL;
	memset(pool, 0, size);
	pool->n_threads = 1;
	atomic_init(&pool->fn, NULL);
	atomic_init(&pool->arg, NULL);
	atomic_init(&pool->n_tasks, 0);
	atomic_init(&pool->ticket, 0);
	atomic_init(&pool->finished, 0);
	atomic_init(&pool->sleepers, 0);
	atomic_init(&pool->caller_sleeps, 0);
	atomic_init(&pool->stop, 0);
	atomic_init(&pool->started, 0);
	if (pthread_mutex_init(&pool->mu, NULL))
		goto fail_mu;
	if (pthread_cond_init(&pool->wake, NULL))
		goto fail_wake;
	if (pthread_cond_init(&pool->done, NULL))
		goto fail_done;
	pool->threads = calloc((size_t)n_threads, sizeof(pthread_t));
	pool->cpu = calloc((size_t)n_threads, sizeof(atomic_int));
	if (!pool->threads || !pool->cpu)
		goto fail_threads;
	for (int i = 0; i < n_threads; i++)
		atomic_init(&pool->cpu[i], -1);
	pool->n_cpu = n_threads;
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
	free(pool->threads);
	free(pool->cpu);
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
	atomic_store_explicit(&pool->stop, 1, memory_order_seq_cst);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->mu);
	for (int i = 1; i < pool->n_threads; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	free(pool->cpu);
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
	/* Every task of the previous run has finished, but its spent ticket
	 * (generation, n_tasks) would still let a late thread that reads the
	 * new job claim task n_tasks of it. So first close the ticket (task
	 * TASK_MASK claims nothing), then change the job: a thread that reads
	 * a changed field then fails its claim (fences, pool_work). */
	uint64_t t = (uint64_t)++pool->generation << 32;
	atomic_store_explicit(&pool->ticket, t | TASK_MASK, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&pool->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&pool->arg, arg, memory_order_relaxed);
	atomic_store_explicit(&pool->n_tasks, n_tasks, memory_order_relaxed);
	atomic_store_explicit(&pool->finished, 0, memory_order_relaxed);
	atomic_store_explicit(&pool->ticket, t, memory_order_seq_cst);
	if (atomic_load_explicit(&pool->sleepers, memory_order_seq_cst)) {
		pthread_mutex_lock(&pool->mu);
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->mu);
	}

	pool_work(pool, t);

	if (spin(pool, all_finished, (uint64_t)n_tasks))
		return;
	pthread_mutex_lock(&pool->mu);
	atomic_store_explicit(&pool->caller_sleeps, 1, memory_order_seq_cst);
	while (atomic_load_explicit(&pool->finished, memory_order_seq_cst) < n_tasks)
		pthread_cond_wait(&pool->done, &pool->mu);
	atomic_store_explicit(&pool->caller_sleeps, 0, memory_order_relaxed);
	pthread_mutex_unlock(&pool->mu);
}

/* The size of the chunk that starts with left elements to go. */
static int64_t guided_size(int64_t left, int64_t align, int64_t min_chunk, int n_threads)
{
	int64_t q = n_threads > 1 ? n_threads : 1;
	int64_t size = ((left + q - 1) / q + align - 1) / align * align;
	if (size < min_chunk)
		size = min_chunk;
	return size < left ? size : left;
}

int mrt__guided_count(int64_t total, int64_t align, int64_t min_chunk, int n_threads)
{
	int n = 0;
	for (int64_t at = 0; at < total; n++)
		at += guided_size(total - at, align, min_chunk, n_threads);
	return n;
}

void mrt__guided_chunk(int64_t total, int64_t align, int64_t min_chunk, int n_threads, int t,
                       int64_t *lo, int64_t *hi)
{
	int64_t at = 0, size = 0;
	for (int i = 0; i <= t && at < total; i++) {
		at += size;
		size = guided_size(total - at, align, min_chunk, n_threads);
	}
	*lo = at;
	*hi = at + size;
}
