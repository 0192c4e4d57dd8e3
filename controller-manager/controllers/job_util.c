/*
 * job_util.c - Job controller helpers: the pod-failure backoff, sets of
 * completion indexes as ordered intervals (their compressed "1,3-5" form), and the
 * evaluation of spec.podFailurePolicy rules (upstream pod_failure_policy.go).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/job.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/xalloc.h"

int64_t job_backoff_delay_s(int64_t failures)
{
  if (failures <= 0) return 0;
  int64_t d = JOB_BACKOFF_BASE_S;
  for (int64_t i = 1; i < failures && d < JOB_BACKOFF_MAX_S; i++) d *= 2;
  return d > JOB_BACKOFF_MAX_S ? JOB_BACKOFF_MAX_S : d;
}

/* ---- completed indexes: ordered intervals ---- */

/* strconv.Atoi: an optional sign, decimal digits, nothing else, in range. */
static bool parse_int(const char *s, size_t len, int64_t *out)
{
  char buf[32];
  if (len == 0 || len >= sizeof buf) return false;
  memcpy(buf, s, len);
  buf[len] = 0;
  const char *p = buf;
  if (*p == '+' || *p == '-') p++;
  if (!*p) return false;
  for (const char *q = p; *q; q++)
    if (*q < '0' || *q > '9') return false;
  errno = 0;
  long long v = strtoll(buf, NULL, 10);
  if (errno == ERANGE) return false;
  *out = v;
  return true;
}

static void intervals_reserve(struct job_intervals *x, size_t n)
{
  if (n <= x->cap) return;
  size_t cap = x->cap ? x->cap * 2 : 8;
  while (cap < n) cap *= 2;
  x->v = xrealloc(x->v, cap * sizeof *x->v);
  x->cap = cap;
}

static void intervals_append(struct job_intervals *x, int64_t first, int64_t last)
{
  if (x->n && x->v[x->n - 1].last + 1 >= first) {
    if (last > x->v[x->n - 1].last) x->v[x->n - 1].last = last;
    return;
  }
  intervals_reserve(x, x->n + 1);
  x->v[x->n++] = (struct job_interval){first, last};
}

void job_intervals_parse(const char *s, int64_t completions, struct job_intervals *out)
{
  out->n = 0;
  if (!s) return;
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    const char *dash = len > 1 ? memchr(s + 1, '-', len - 1) : NULL; /* a leading '-' is a sign */
    int64_t first = 0, last = 0;
    bool ok = parse_int(s, dash ? (size_t)(dash - s) : len, &first);
    if (ok && first >= completions) break;
    if (ok && dash) ok = parse_int(dash + 1, len - (size_t)(dash + 1 - s), &last);
    else last = first;
    /* Overlaps merge; an interval out of order is corrupted: skipped. */
    if (ok && first >= 0 && last >= first && (!out->n || first >= out->v[out->n - 1].first)) {
      if (last >= completions) last = completions - 1;
      intervals_append(out, first, last);
    }
    if (!comma) break;
    s = comma + 1;
  }
}

void job_intervals_free(struct job_intervals *x)
{
  free(x->v);
  memset(x, 0, sizeof *x);
}

/* Index of the first interval whose last >= ix (n if none). */
static size_t intervals_search(const struct job_intervals *x, int64_t ix)
{
  size_t lo = 0, hi = x->n;
  while (hi > lo) {
    size_t mid = lo + (hi - lo) / 2;
    if (x->v[mid].last >= ix) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

bool job_intervals_has(const struct job_intervals *x, int64_t ix)
{
  size_t i = intervals_search(x, ix);
  return i < x->n && x->v[i].first <= ix;
}

void job_intervals_add(struct job_intervals *x, int64_t ix)
{
  if (ix < 0 || job_intervals_has(x, ix)) return;
  size_t i = intervals_search(x, ix);
  bool joins_prev = i > 0 && x->v[i - 1].last + 1 == ix;
  bool joins_next = i < x->n && x->v[i].first - 1 == ix;
  if (joins_prev && joins_next) {
    x->v[i - 1].last = x->v[i].last;
    memmove(&x->v[i], &x->v[i + 1], (x->n - i - 1) * sizeof *x->v);
    x->n--;
  } else if (joins_prev) {
    x->v[i - 1].last = ix;
  } else if (joins_next) {
    x->v[i].first = ix;
  } else {
    intervals_reserve(x, x->n + 1);
    memmove(&x->v[i + 1], &x->v[i], (x->n - i) * sizeof *x->v);
    x->v[i] = (struct job_interval){ix, ix};
    x->n++;
  }
}

int64_t job_intervals_total(const struct job_intervals *x)
{
  int64_t c = 0;
  for (size_t i = 0; i < x->n; i++) c += x->v[i].last - x->v[i].first + 1;
  return c;
}

char *job_intervals_format(const struct job_intervals *x)
{
  /* At most two 20-digit numbers and two separators per interval. */
  char *out = xmalloc(x->n * 44 + 1), *p = out;
  *p = 0;
  for (size_t i = 0; i < x->n; i++) {
    const struct job_interval *v = &x->v[i];
    p += sprintf(p, "%s%lld", i ? "," : "", (long long)v->first);
    if (v->last > v->first) p += sprintf(p, "%c%lld", v->last == v->first + 1 ? ',' : '-', (long long)v->last);
  }
  return out;
}

size_t job_first_pending(const struct job_intervals *done, const int64_t *busy, size_t nbusy, int64_t completions,
                         size_t count, int64_t *out)
{
  size_t n = 0, d = 0, b = 0;
  for (int64_t cand = 0; cand < completions && n < count;) {
    while (d < done->n && done->v[d].last < cand) d++;
    while (b < nbusy && busy[b] < cand) b++;
    if (d < done->n && done->v[d].first <= cand) {
      cand = done->v[d].last + 1; /* skip the whole interval */
      continue;
    }
    if (b < nbusy && busy[b] == cand) {
      cand++;
      continue;
    }
    out[n++] = cand++;
  }
  return n;
}

int64_t job_pod_index(const json_t *pod)
{
  const char *s = kj_get_str(pod, "metadata.annotations[\"" JOB_COMPLETION_INDEX "\"]");
  int64_t v;
  if (!s || !parse_int(s, strlen(s), &v) || v < 0) return -1;
  return v;
}

static bool exit_code_matches(const json_t *req, const json_t *pod, const char **container, int64_t *code)
{
  const char *cname = kj_get_str(req, "containerName");
  const char *op = kj_get_str(req, "operator");
  json_t *values = json_object_get(req, "values");
  const char *lists[] = {"status.initContainerStatuses", "status.containerStatuses"};
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *cs;
    json_array_foreach (kj_get(pod, lists[l]), i, cs) {
      json_t *term = kj_get(cs, "state.terminated");
      if (!term) continue;
      const char *n = kj_get_str(cs, "name");
      if (cname && (!n || strcmp(n, cname))) continue;
      int64_t ec = kj_get_int(term, "exitCode", 0);
      if (ec == 0) continue; /* success never matches a failure rule */
      bool in = false;
      size_t k;
      json_t *v;
      json_array_foreach (values, k, v)
        if (json_integer_value(v) == ec) in = true;
      if ((op && !strcmp(op, "In") && in) || (op && !strcmp(op, "NotIn") && !in)) {
        *container = n ? n : "";
        *code = ec;
        return true;
      }
    }
  }
  return false;
}

static bool condition_matches(const json_t *patterns, const json_t *pod, const char **ctype)
{
  size_t i, k;
  json_t *pat, *c;
  json_array_foreach (patterns, i, pat) {
    const char *t = kj_get_str(pat, "type"), *s = kj_get_str(pat, "status");
    if (!s) s = "True";
    json_array_foreach (kj_get(pod, "status.conditions"), k, c) {
      const char *ct = kj_get_str(c, "type"), *cs = kj_get_str(c, "status");
      if (t && ct && cs && !strcmp(t, ct) && !strcmp(s, cs)) {
        *ctype = t;
        return true;
      }
    }
  }
  return false;
}

enum job_policy_action job_pod_failure_policy(const json_t *job, const json_t *pod, char *msg, size_t len)
{
  json_t *rules = kj_get(job, "spec.podFailurePolicy.rules");
  size_t i;
  json_t *r;
  json_array_foreach (rules, i, r) {
    const char *action = kj_get_str(r, "action");
    json_t *oec = json_object_get(r, "onExitCodes"), *opc = json_object_get(r, "onPodConditions");
    const char *container = NULL, *ctype = NULL;
    int64_t code = 0;
    bool hit = false;
    if (oec && exit_code_matches(oec, pod, &container, &code)) {
      hit = true;
      snprintf(msg, len, "Container %s for pod %s/%s failed with exit code %lld matching %s rule at index %zu",
               container, kj_get_str(pod, "metadata.namespace"), kj_get_str(pod, "metadata.name"), (long long)code,
               action ? action : "", i);
    } else if (opc && condition_matches(opc, pod, &ctype)) {
      hit = true;
      snprintf(msg, len, "Pod %s/%s has condition %s matching %s rule at index %zu",
               kj_get_str(pod, "metadata.namespace"), kj_get_str(pod, "metadata.name"), ctype, action ? action : "", i);
    }
    if (!hit || !action) continue;
    if (!strcmp(action, "FailJob")) return JOB_POLICY_FAIL_JOB;
    if (!strcmp(action, "Ignore")) return JOB_POLICY_IGNORE;
    if (!strcmp(action, "Count")) return JOB_POLICY_COUNT;
    return JOB_POLICY_COUNT; /* FailIndex without backoffLimitPerIndex counts */
  }
  return JOB_POLICY_NONE;
}
