/*
 * http_metrics — a process-wide registry of Prometheus metrics (counters,
 * gauges, histograms) rendered by GET /metrics in the text exposition
 * format 0.0.4. Any module registers its own (the writer's batch sizes and
 * commit latency, the projector's lag) and updates them from any thread.
 *
 * Updates are relaxed atomics: one add per counter, one store per gauge,
 * two adds and a CAS loop per histogram observation; never a lock. Only
 * registration and rendering take the registry's mutex.
 *
 * Ownership: metrics live until the process ends; never free them.
 * Thread: every function is safe from any thread.
 */
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/common/pv_buf.h"

typedef struct http_metric http_metric;

/* Largest number of metrics in the registry: 64, arbitrary (a few per
 * module); and buckets per histogram: 24, arbitrary (covers 1 µs..10 s in
 * 1-2.5-5 steps). */
#define HTTP_METRICS_MAX 64
#define HTTP_METRIC_BUCKETS_MAX 24

/*
 * Registers (or finds, when the name is already registered with the same
 * kind) a metric. name must match [a-zA-Z_:][a-zA-Z0-9_:]*; help is one line.
 * bounds are histogram upper bounds in increasing order (+Inf is implied).
 * Returns: the metric, or NULL when the name is invalid, taken by another
 * kind, the bounds are bad, or the registry is full.
 */
http_metric *http_metric_counter(const char *name, const char *help);
http_metric *http_metric_gauge(const char *name, const char *help);
http_metric *http_metric_histogram(const char *name, const char *help,
                                   const double *bounds, size_t n_bounds);

/* Counter += n. */
void http_metric_add(http_metric *m, uint64_t n);
/* Gauge = v. */
void http_metric_set(http_metric *m, double v);
/* Histogram: counts v in its bucket and adds it to the sum. */
void http_metric_observe(http_metric *m, double v);

/*
 * A collector appends metrics of its own, already in the exposition format,
 * at each render: for state another module owns and can report on demand
 * (the writer's stats, each projection's lag with a label). At most
 * HTTP_METRICS_COLLECTORS_MAX (8, arbitrary); fn runs on the rendering
 * thread and must not block. Returns: 0, or PV_EBUSY when full.
 */
#define HTTP_METRICS_COLLECTORS_MAX 8
typedef void (*http_metrics_collect_fn)(void *ctx, pv_buf *out);
int http_metrics_add_collector(http_metrics_collect_fn fn, void *ctx);
/* Removes a collector (before its ctx dies). */
void http_metrics_remove_collector(http_metrics_collect_fn fn, void *ctx);

/* Appends every registered metric, then each collector's, in the text
 * exposition format. */
void http_metrics_render(pv_buf *out);

/* Latency bounds in seconds used for per-route histograms (100 µs .. 10 s). */
extern const double http_latency_bounds[];
extern const size_t http_latency_bounds_count;

#endif
