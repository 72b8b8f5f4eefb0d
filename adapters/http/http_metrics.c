/*
 * http_metrics — the registry behind http_metrics.h. A fixed array of
 * slots; a slot is published (count incremented with release order) only
 * once filled, so renderers read only complete slots.
 */
#include "adapters/http/http_metrics.h"
#include "core/common/pv_error.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct http_metric {
  enum metric_kind kind;
  char name[96];
  char help[160];
  _Atomic uint64_t value;      /* counter count, or gauge's double bits */
  size_t n_bounds;
  double bounds[HTTP_METRIC_BUCKETS_MAX];
  _Atomic uint64_t buckets[HTTP_METRIC_BUCKETS_MAX + 1]; /* last is +Inf */
  _Atomic uint64_t sum_bits;   /* histogram sum as double bits */
};

static struct http_metric registry[HTTP_METRICS_MAX];
static _Atomic size_t registry_count;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
  http_metrics_collect_fn fn;
  void *ctx;
} collectors[HTTP_METRICS_COLLECTORS_MAX]; /* guarded by registry_lock */
static size_t collector_count;

const double http_latency_bounds[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
const size_t http_latency_bounds_count =
    sizeof http_latency_bounds / sizeof http_latency_bounds[0];

static uint64_t double_bits(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static double bits_double(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static bool name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof registry[0].name) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

static http_metric *metric_register(enum metric_kind kind, const char *name,
                                    const char *help, const double *bounds,
                                    size_t n_bounds) {
  http_metric *m = NULL;
  if (!name || !name_ok(name) || n_bounds > HTTP_METRIC_BUCKETS_MAX) return NULL;
  for (size_t i = 1; i < n_bounds; i++)
    if (!(bounds[i] > bounds[i - 1])) return NULL;
  pthread_mutex_lock(&registry_lock);
  size_t count = atomic_load_explicit(&registry_count, memory_order_relaxed);
  for (size_t i = 0; i < count; i++) {
    if (strcmp(registry[i].name, name) == 0) {
      m = registry[i].kind == kind ? &registry[i] : NULL;
      goto unlock;
    }
  }
  if (count == HTTP_METRICS_MAX) goto unlock;
  m = &registry[count];
  m->kind = kind;
  snprintf(m->name, sizeof m->name, "%s", name);
  snprintf(m->help, sizeof m->help, "%s", help ? help : "");
  for (char *p = m->help; *p; p++)
    if (*p == '\n' || *p == '\\') *p = ' ';
  m->n_bounds = n_bounds;
  if (n_bounds) memcpy(m->bounds, bounds, n_bounds * sizeof *bounds);
  atomic_store_explicit(&registry_count, count + 1, memory_order_release);
unlock:
  pthread_mutex_unlock(&registry_lock);
  return m;
}

http_metric *http_metric_counter(const char *name, const char *help) {
  return metric_register(KIND_COUNTER, name, help, NULL, 0);
}

http_metric *http_metric_gauge(const char *name, const char *help) {
  return metric_register(KIND_GAUGE, name, help, NULL, 0);
}

http_metric *http_metric_histogram(const char *name, const char *help,
                                   const double *bounds, size_t n_bounds) {
  return metric_register(KIND_HISTOGRAM, name, help, bounds, n_bounds);
}

void http_metric_add(http_metric *m, uint64_t n) {
  atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void http_metric_set(http_metric *m, double v) {
  atomic_store_explicit(&m->value, double_bits(v), memory_order_relaxed);
}

void http_metric_observe(http_metric *m, double v) {
  size_t i = 0;
  while (i < m->n_bounds && v > m->bounds[i]) i++;
  atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
  uint64_t old = atomic_load_explicit(&m->sum_bits, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(
      &m->sum_bits, &old, double_bits(bits_double(old) + v),
      memory_order_relaxed, memory_order_relaxed)) {
  }
}

static void add_double(pv_buf *out, double v) {
  if (isinf(v)) pv_buf_addstr(out, v > 0 ? "+Inf" : "-Inf");
  else if (isnan(v)) pv_buf_addstr(out, "NaN");
  else pv_buf_addf(out, "%.17g", v);
}

int http_metrics_add_collector(http_metrics_collect_fn fn, void *ctx) {
  int rc = PV_EBUSY;
  pthread_mutex_lock(&registry_lock);
  if (collector_count < HTTP_METRICS_COLLECTORS_MAX) {
    collectors[collector_count].fn = fn;
    collectors[collector_count].ctx = ctx;
    collector_count++;
    rc = 0;
  }
  pthread_mutex_unlock(&registry_lock);
  return rc;
}

void http_metrics_remove_collector(http_metrics_collect_fn fn, void *ctx) {
  pthread_mutex_lock(&registry_lock);
  for (size_t i = 0; i < collector_count; i++)
    if (collectors[i].fn == fn && collectors[i].ctx == ctx) {
      collectors[i] = collectors[--collector_count];
      break;
    }
  pthread_mutex_unlock(&registry_lock);
}

static void render_collectors(pv_buf *out) {
  pthread_mutex_lock(&registry_lock);
  for (size_t i = 0; i < collector_count; i++) collectors[i].fn(collectors[i].ctx, out);
  pthread_mutex_unlock(&registry_lock);
}

void http_metrics_render(pv_buf *out) {
  size_t count = atomic_load_explicit(&registry_count, memory_order_acquire);
  for (size_t i = 0; i < count; i++) {
    http_metric *m = &registry[i];
    static const char *const kinds[] = {"counter", "gauge", "histogram"};
    pv_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                kinds[m->kind]);
    uint64_t v = atomic_load_explicit(&m->value, memory_order_relaxed);
    if (m->kind == KIND_COUNTER) {
      pv_buf_addf(out, "%s %llu\n", m->name, (unsigned long long)v);
    } else if (m->kind == KIND_GAUGE) {
      pv_buf_addf(out, "%s ", m->name);
      add_double(out, bits_double(v));
      pv_buf_addch(out, '\n');
    } else {
      uint64_t cumulative = 0;
      for (size_t b = 0; b <= m->n_bounds; b++) {
        cumulative += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        pv_buf_addf(out, "%s_bucket{le=\"", m->name);
        add_double(out, b < m->n_bounds ? m->bounds[b] : INFINITY);
        pv_buf_addf(out, "\"} %llu\n", (unsigned long long)cumulative);
      }
      pv_buf_addf(out, "%s_sum ", m->name);
      add_double(out, bits_double(atomic_load_explicit(&m->sum_bits, memory_order_relaxed)));
      pv_buf_addf(out, "\n%s_count %llu\n", m->name, (unsigned long long)cumulative);
    }
  }
  render_collectors(out);
}
