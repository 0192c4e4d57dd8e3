/*
 * metrics.h - a small Prometheus registry: counters, gauges, histograms,
 * each with optional labels, rendered in the text exposition format
 * (version 0.0.4) for /metrics.  One registry per program; not thread-safe
 * (one event loop per program).
 */
#ifndef KUBE_METRICS_H
#define KUBE_METRICS_H

#include <stddef.h>

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* labels: a Prometheus label set without braces, e.g.
 * "verb=\"GET\",code=\"200\"", or NULL/"" for none.  The metric family is
 * created on first use with its help text. */
void metrics_counter_add(struct metrics *m, const char *name, const char *help, const char *labels, double delta);
void metrics_gauge_set(struct metrics *m, const char *name, const char *help, const char *labels, double value);
/* Histogram with default buckets (0.005 .. 60 s style when buckets NULL). */
void metrics_histogram_observe(struct metrics *m, const char *name, const char *help, const char *labels,
                               const double *buckets, size_t nbuckets, double value);
/* Text exposition; caller frees. */
char *metrics_render(const struct metrics *m, size_t *len);

#endif
