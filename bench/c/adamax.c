/*
 * One adamax step in plain C: the physical-limit proxy of `npm run bench`.
 *
 * The same operation order as optax (and as this library's kernel), one pass over memory:
 *   mu = (1 - b1) * g + b1 * mu
 *   nu = max(|g| + eps, b2 * nu)
 *   p += -lr * ((mu / bias) / nu)          bias = 1 - b1^t, rounded to the element type
 * Built with -O3 -march=native -ffp-contract=off (no FMA contraction, so every op rounds like XLA's),
 * vectorized by the compiler. `max` is written as a compare-select so it vectorizes to maxps/maxpd
 * (jnp.maximum would also propagate NaN; irrelevant to timing).
 *
 * Threads: OpenMP when built with -fopenmp, else a small pthread pool (-DADAMAX_PTHREADS). The
 * parameters are split into `threads` equal contiguous ranges of the flattened tree, so one big leaf
 * and many small leaves balance alike.
 *
 * Usage: adamax <leaves> <leaf_size> <threads> <min_seconds> [repeats (default 5)]
 * Prints: ns_per_param <min over repeats> steps <timed steps> threads <threads>
 *
 * Or: adamax <leaves> <leaf_size> <threads> serve
 * Warms up, prints `ready`, then for each line `k` read from stdin runs k steps and prints
 * `<wall seconds> <cpu seconds>` (CPU time of the whole process, all threads); exits at end of input.
 * The bench drives it this way to time C and the fused engine in alternation, sample by sample, so
 * that a change of load on a shared machine skews both alike (bench/interleaved-c.ts).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef ADAMAX_FLOAT64
typedef double real;
#define ABS fabs
#define POW pow
#else
typedef float real;
#define ABS fabsf
#define POW powf
#endif

typedef struct {
  real *p, *mu, *nu, *g;
  size_t n;
} Leaf;

typedef struct {
  real b1, one_minus_b1, b2, eps, neg_lr, bias;
} Scalars;

static Leaf *leaves;
static size_t leaf_count, leaf_size, total;

static void leaf_range(const Leaf *leaf, size_t lo, size_t hi, const Scalars *s) {
  real *restrict p = leaf->p, *restrict mu = leaf->mu, *restrict nu = leaf->nu;
  const real *restrict g = leaf->g;
  const real b1 = s->b1, omb1 = s->one_minus_b1, b2 = s->b2, eps = s->eps, neg_lr = s->neg_lr, bias = s->bias;
  for (size_t i = lo; i < hi; i++) {
    real m = omb1 * g[i] + b1 * mu[i];
    real a = ABS(g[i]) + eps, b = b2 * nu[i];
    real v = a > b ? a : b;
    mu[i] = m;
    nu[i] = v;
    p[i] += neg_lr * ((m / bias) / v);
  }
}

/* Runs the flattened element range [lo, hi) across the leaves it touches. */
static void flat_range(size_t lo, size_t hi, const Scalars *s) {
  size_t first = lo / leaf_size, last = (hi + leaf_size - 1) / leaf_size;
  for (size_t l = first; l < last && l < leaf_count; l++) {
    size_t base = l * leaf_size;
    size_t a = lo > base ? lo - base : 0;
    size_t b = hi < base + leaf_size ? hi - base : leaf_size;
    if (a < b) leaf_range(&leaves[l], a, b, s);
  }
}

static int threads = 1;

#ifdef _OPENMP
#include <omp.h>
static void run_step(const Scalars *s) {
  if (threads == 1) { flat_range(0, total, s); return; }
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), n = omp_get_num_threads();
    flat_range(total * (size_t)t / (size_t)n, total * (size_t)(t + 1) / (size_t)n, s);
  }
}
static void start_pool(void) {}
static void stop_pool(void) {}
#else
#include <pthread.h>
/* A persistent pool: workers wait on a barrier, run their range, meet at a second barrier. */
static pthread_barrier_t go, done;
static const Scalars *current;
static volatile int quitting;
static pthread_t *workers;

static void *worker(void *arg) {
  size_t t = (size_t)arg;
  for (;;) {
    pthread_barrier_wait(&go);
    if (quitting) return NULL;
    flat_range(total * t / (size_t)threads, total * (t + 1) / (size_t)threads, current);
    pthread_barrier_wait(&done);
  }
}
static void start_pool(void) {
  if (threads == 1) return;
  pthread_barrier_init(&go, NULL, (unsigned)threads);
  pthread_barrier_init(&done, NULL, (unsigned)threads);
  workers = calloc((size_t)threads, sizeof *workers);
  for (int t = 1; t < threads; t++) pthread_create(&workers[t], NULL, worker, (void *)(size_t)t);
}
static void stop_pool(void) {
  if (threads == 1) return;
  quitting = 1;
  pthread_barrier_wait(&go);
  for (int t = 1; t < threads; t++) pthread_join(workers[t], NULL);
}
static void run_step(const Scalars *s) {
  if (threads == 1) { flat_range(0, total, s); return; }
  current = s;
  pthread_barrier_wait(&go);
  flat_range(0, total / (size_t)threads, s);
  pthread_barrier_wait(&done);
}
#endif

static double clock_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double now(void) { return clock_seconds(CLOCK_MONOTONIC); }

static real *alloc_array(size_t n) {
  void *ptr = NULL;
  if (posix_memalign(&ptr, 64, n * sizeof(real)) != 0) { fprintf(stderr, "out of memory\n"); exit(2); }
  return ptr;
}

static long count = 0;
static void step(void) {
  count++;
  const real b1 = (real)0.9;
  Scalars s = { b1, (real)1 - b1, (real)0.999, (real)1e-8, (real)-1e-3, (real)1 - (real)POW(b1, (real)count) };
  run_step(&s);
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) { fprintf(stderr, "usage: %s <leaves> <leaf_size> <threads> (<min_seconds> [repeats] | serve)\n", argv[0]); return 1; }
  leaf_count = strtoul(argv[1], NULL, 10);
  leaf_size = strtoul(argv[2], NULL, 10);
  threads = atoi(argv[3]);
  int serve = strcmp(argv[4], "serve") == 0;
  double min_seconds = serve ? 0.2 : atof(argv[4]);
  int repeats = argc == 6 ? atoi(argv[5]) : 5;
  if (leaf_count == 0 || leaf_size == 0 || threads < 1 || repeats < 1) { fprintf(stderr, "bad arguments\n"); return 1; }
  total = leaf_count * leaf_size;

  /* Each stream (p, mu, nu, g) is one arena, leaves 64-byte aligned inside it, as a fused engine lays
   * them out. (Separately malloc'd small leaves interleave the four streams in memory, and run ~2.5x
   * slower on a 2000x500 tree: that would measure the allocator, not the limit.) */
  size_t stride = (leaf_size + 64 / sizeof(real) - 1) / (64 / sizeof(real)) * (64 / sizeof(real));
  real *arena[4];
  for (int a = 0; a < 4; a++) arena[a] = alloc_array(leaf_count * stride);
  leaves = calloc(leaf_count, sizeof *leaves);
  for (size_t l = 0; l < leaf_count; l++) {
    Leaf *leaf = &leaves[l];
    leaf->n = leaf_size;
    leaf->p = arena[0] + l * stride; leaf->mu = arena[1] + l * stride;
    leaf->nu = arena[2] + l * stride; leaf->g = arena[3] + l * stride;
    for (size_t i = 0; i < leaf_size; i++) {
      size_t k = l * leaf_size + i;
      leaf->p[i] = (real)cos((double)k * 0.001);
      leaf->g[i] = (real)(0.5 * sin((double)k * 0.37) + 0.01); /* fixed gradients, never zero */
      leaf->mu[i] = 0;
      leaf->nu[i] = 0;
    }
  }
  start_pool();

  /* Warm up (page faults, caches, thread start), then time repeats of k steps and keep the best. */
  double t0 = now();
  int warm = 0;
  while (warm < 3 || now() - t0 < 0.05 * min_seconds) { step(); warm++; }
  double per_step = (now() - t0) / warm;
  if (serve) {
    char line[64];
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
      long steps = strtol(line, NULL, 10);
      double w = now(), c = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
      for (long i = 0; i < steps; i++) step();
      printf("%.9f %.9f\n", now() - w, clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c);
      fflush(stdout);
    }
    stop_pool();
    return 0;
  }
  long k = (long)(min_seconds / repeats / per_step) + 1;
  double best = INFINITY;
  long timed = 0;
  for (int r = 0; r < repeats; r++) {
    double a = now();
    for (long i = 0; i < k; i++) step();
    double dt = (now() - a) / (double)k;
    timed += k;
    if (dt < best) best = dt;
  }
  stop_pool();
  /* Keep the result observable so the compiler cannot drop the work. */
  double checksum = 0;
  for (size_t l = 0; l < leaf_count; l++) checksum += leaves[l].p[leaf_size / 2];
  printf("ns_per_param %.6f steps %ld threads %d checksum %.6g\n", best * 1e9 / (double)total, timed, threads, checksum);
  return 0;
}
