/*
 * metrics.c - a small Prometheus registry rendered in the text exposition
 * format 0.0.4.
 *
 * Families are created on first use with their help text and type; each
 * holds series keyed by their label string exactly as the caller wrote it,
 * so callers must write labels in a fixed order.  Lookups are linear: a
 * program has tens of families and each family at most a few hundred
 * series.  Rendering sorts families by name and series by labels, as
 * client_golang's gatherer does, so output is stable for tests and diffs.
 * Histograms keep cumulative bucket counts and print _bucket (with an
 * "le" label, ending in +Inf), _sum and _count.
 */
#define _GNU_SOURCE
#include "kube/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/strconv.h"
#include "kube/xalloc.h"

enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM };

static const double default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

struct series {
  char *labels;
  double value; /* counter/gauge */
  double sum;   /* histogram */
  unsigned long long count;
  unsigned long long *bucket_counts; /* cumulative at render, per-bucket here */
};

struct family {
  char *name;
  char *help;
  enum mtype type;
  double *buckets;
  size_t nbuckets;
  struct series *series;
  size_t nseries;
};

struct metrics {
  struct family *fams;
  size_t nfams;
};

struct metrics *metrics_new(void) { return xcalloc(1, sizeof(struct metrics)); }

void metrics_free(struct metrics *m)
{
  if (!m) return;
  for (size_t i = 0; i < m->nfams; i++) {
    struct family *f = &m->fams[i];
    for (size_t j = 0; j < f->nseries; j++) {
      free(f->series[j].labels);
      free(f->series[j].bucket_counts);
    }
    free(f->series);
    free(f->buckets);
    free(f->name);
    free(f->help);
  }
  free(m->fams);
  free(m);
}

static struct family *family_get(struct metrics *m, const char *name, const char *help, enum mtype type,
                                 const double *buckets, size_t nbuckets)
{
  for (size_t i = 0; i < m->nfams; i++)
    if (strcmp(m->fams[i].name, name) == 0) return m->fams[i].type == type ? &m->fams[i] : NULL;
  struct family *nf = xrealloc(m->fams, (m->nfams + 1) * sizeof *nf);
  if (!nf) return NULL;
  m->fams = nf;
  struct family *f = &nf[m->nfams];
  memset(f, 0, sizeof *f);
  f->name = xstrdup(name);
  f->help = xstrdup(help ? help : "");
  f->type = type;
  if (type == M_HISTOGRAM) {
    if (!buckets || nbuckets == 0) {
      buckets = default_buckets;
      nbuckets = sizeof default_buckets / sizeof default_buckets[0];
    }
    f->buckets = xmalloc(nbuckets * sizeof *f->buckets);
    if (f->buckets) {
      memcpy(f->buckets, buckets, nbuckets * sizeof *f->buckets);
      f->nbuckets = nbuckets;
    }
  }
  if (!f->name || !f->help || (type == M_HISTOGRAM && !f->buckets)) {
    free(f->name);
    free(f->help);
    free(f->buckets);
    return NULL;
  }
  m->nfams++;
  return f;
}

static struct series *series_get(struct family *f, const char *labels)
{
  if (!labels) labels = "";
  for (size_t i = 0; i < f->nseries; i++)
    if (strcmp(f->series[i].labels, labels) == 0) return &f->series[i];
  struct series *ns = xrealloc(f->series, (f->nseries + 1) * sizeof *ns);
  if (!ns) return NULL;
  f->series = ns;
  struct series *s = &ns[f->nseries];
  memset(s, 0, sizeof *s);
  s->labels = xstrdup(labels);
  if (f->type == M_HISTOGRAM) s->bucket_counts = xcalloc(f->nbuckets, sizeof *s->bucket_counts);
  if (!s->labels || (f->type == M_HISTOGRAM && !s->bucket_counts)) {
    free(s->labels);
    free(s->bucket_counts);
    return NULL;
  }
  f->nseries++;
  return s;
}

void metrics_counter_add(struct metrics *m, const char *name, const char *help, const char *labels, double delta)
{
  struct family *f = m ? family_get(m, name, help, M_COUNTER, NULL, 0) : NULL;
  struct series *s = f ? series_get(f, labels) : NULL;
  /* Counters only go up; a negative delta is a caller bug we ignore. */
  if (s && delta >= 0) s->value += delta;
}

void metrics_gauge_set(struct metrics *m, const char *name, const char *help, const char *labels, double value)
{
  struct family *f = m ? family_get(m, name, help, M_GAUGE, NULL, 0) : NULL;
  struct series *s = f ? series_get(f, labels) : NULL;
  if (s) s->value = value;
}

void metrics_histogram_observe(struct metrics *m, const char *name, const char *help, const char *labels,
                               const double *buckets, size_t nbuckets, double value)
{
  struct family *f = m ? family_get(m, name, help, M_HISTOGRAM, buckets, nbuckets) : NULL;
  struct series *s = f ? series_get(f, labels) : NULL;
  if (!s) return;
  for (size_t i = 0; i < f->nbuckets; i++) {
    if (value <= f->buckets[i]) {
      s->bucket_counts[i]++;
      break;
    }
  }
  s->sum += value;
  s->count++;
}

static void fmt_value(double v, char *buf, size_t len) { kstr_format_float(v, buf, len); }

static void put_help(FILE *out, const char *help)
{
  for (const char *p = help; *p; p++) {
    if (*p == '\\') fputs("\\\\", out);
    else if (*p == '\n') fputs("\\n", out);
    else fputc(*p, out);
  }
}

static int fam_cmp(const void *a, const void *b)
{
  const struct family *const *fa = a, *const *fb = b;
  return strcmp((*fa)->name, (*fb)->name);
}

static int series_cmp(const void *a, const void *b)
{
  const struct series *const *sa = a, *const *sb = b;
  return strcmp((*sa)->labels, (*sb)->labels);
}

static void render_family(FILE *out, const struct family *f)
{
  static const char *const types[] = {"counter", "gauge", "histogram"};
  char v[64];
  fprintf(out, "# HELP %s ", f->name);
  put_help(out, f->help);
  fprintf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
  const struct series **sorted = xmalloc((f->nseries ? f->nseries : 1) * sizeof *sorted);
  if (!sorted) return;
  for (size_t i = 0; i < f->nseries; i++) sorted[i] = &f->series[i];
  qsort(sorted, f->nseries, sizeof *sorted, series_cmp);
  for (size_t i = 0; i < f->nseries; i++) {
    const struct series *s = sorted[i];
    bool has = s->labels[0] != '\0';
    if (f->type != M_HISTOGRAM) {
      fmt_value(s->value, v, sizeof v);
      if (has) fprintf(out, "%s{%s} %s\n", f->name, s->labels, v);
      else fprintf(out, "%s %s\n", f->name, v);
      continue;
    }
    unsigned long long cum = 0;
    for (size_t b = 0; b < f->nbuckets; b++) {
      cum += s->bucket_counts[b];
      fmt_value(f->buckets[b], v, sizeof v);
      fprintf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, has ? "," : "", v, cum);
    }
    fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels, has ? "," : "", s->count);
    fmt_value(s->sum, v, sizeof v);
    if (has) {
      fprintf(out, "%s_sum{%s} %s\n", f->name, s->labels, v);
      fprintf(out, "%s_count{%s} %llu\n", f->name, s->labels, s->count);
    } else {
      fprintf(out, "%s_sum %s\n", f->name, v);
      fprintf(out, "%s_count %llu\n", f->name, s->count);
    }
  }
  free(sorted);
}

char *metrics_render(const struct metrics *m, size_t *len)
{
  char *buf = NULL;
  size_t blen = 0;
  FILE *out = open_memstream(&buf, &blen);
  if (!out) return NULL;
  size_t n = m ? m->nfams : 0;
  const struct family **sorted = xmalloc((n ? n : 1) * sizeof *sorted);
  if (sorted) {
    for (size_t i = 0; i < n; i++) sorted[i] = &m->fams[i];
    qsort(sorted, n, sizeof *sorted, fam_cmp);
    for (size_t i = 0; i < n; i++) render_family(out, sorted[i]);
    free(sorted);
  }
  if (fclose(out) != 0) {
    free(buf);
    return NULL;
  }
  if (len) *len = blen;
  return buf;
}
