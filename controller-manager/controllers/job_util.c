/*
 * job_util.c - Job controller helpers: the pod-failure backoff, sets of
 * completion indexes in their compressed "1,3-5" form, and the
 * evaluation of spec.podFailurePolicy rules (upstream pod_failure_policy.go).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/job.h"
#include "kube/json.h"

int64_t job_backoff_delay_s(int64_t failures)
{
  if (failures <= 0) return 0;
  int64_t d = JOB_BACKOFF_BASE_S;
  for (int64_t i = 1; i < failures && d < JOB_BACKOFF_MAX_S; i++) d *= 2;
  return d > JOB_BACKOFF_MAX_S ? JOB_BACKOFF_MAX_S : d;
}

int job_indexes_parse(const char *s, int64_t n, struct job_indexes *out)
{
  if (n < 0) n = 0;
  if (n > JOB_MAX_INDEXES) n = JOB_MAX_INDEXES;
  out->n = n;
  out->set = calloc((size_t)n + 1, 1);
  if (!out->set) return -ENOMEM;
  if (!s || !*s) return 0;
  const char *p = s;
  while (*p) {
    char *end;
    long long a = strtoll(p, &end, 10), b;
    if (end == p || a < 0) return -EINVAL;
    p = end;
    if (*p == '-') {
      b = strtoll(p + 1, &end, 10);
      if (end == p + 1 || b < a) return -EINVAL;
      p = end;
    } else {
      b = a;
    }
    for (long long i = a; i <= b && i < n; i++) out->set[i] = 1;
    if (*p == ',') p++;
    else if (*p) return -EINVAL;
  }
  return 0;
}

void job_indexes_free(struct job_indexes *x)
{
  free(x->set);
  x->set = NULL;
}

int64_t job_indexes_count(const struct job_indexes *x)
{
  int64_t c = 0;
  for (int64_t i = 0; i < x->n; i++) c += x->set[i];
  return c;
}

char *job_indexes_format(const struct job_indexes *x)
{
  size_t cap = 64, len = 0;
  char *out = malloc(cap);
  out[0] = 0;
  for (int64_t i = 0; i < x->n;) {
    if (!x->set[i]) {
      i++;
      continue;
    }
    int64_t j = i;
    while (j + 1 < x->n && x->set[j + 1]) j++;
    char buf[48];
    if (j == i)
      snprintf(buf, sizeof buf, "%s%lld", len ? "," : "", (long long)i);
    else
      snprintf(buf, sizeof buf, "%s%lld-%lld", len ? "," : "", (long long)i, (long long)j);
    size_t bl = strlen(buf);
    if (len + bl + 1 > cap) {
      cap = (len + bl + 1) * 2;
      out = realloc(out, cap);
    }
    memcpy(out + len, buf, bl + 1);
    len += bl;
    i = j + 1;
  }
  return out;
}

int64_t job_pod_index(const json_t *pod)
{
  const char *s = kj_get_str(pod, "metadata.annotations[\"" JOB_COMPLETION_INDEX "\"]");
  if (!s) s = kj_get_str(pod, "metadata.labels[\"" JOB_COMPLETION_INDEX "\"]");
  if (!s || !*s) return -1;
  char *end;
  long long v = strtoll(s, &end, 10);
  return *end || v < 0 ? -1 : v;
}

static bool exit_code_matches(const json_t *req, const json_t *pod, const char **container, int64_t *code)
{
  const char *cname = kj_get_str(req, "containerName");
  const char *op = kj_get_str(req, "operator");
  json_t *values = json_object_get(req, "values");
  const char *lists[] = { "status.initContainerStatuses", "status.containerStatuses" };
  for (int l = 0; l < 2; l++) {
    size_t i;
    json_t *cs;
    json_array_foreach(kj_get(pod, lists[l]), i, cs) {
      json_t *term = kj_get(cs, "state.terminated");
      if (!term) continue;
      const char *n = kj_get_str(cs, "name");
      if (cname && (!n || strcmp(n, cname))) continue;
      int64_t ec = kj_get_int(term, "exitCode", 0);
      if (ec == 0) continue;  /* success never matches a failure rule */
      bool in = false;
      size_t k;
      json_t *v;
      json_array_foreach(values, k, v) if (json_integer_value(v) == ec) in = true;
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
  json_array_foreach(patterns, i, pat) {
    const char *t = kj_get_str(pat, "type"), *s = kj_get_str(pat, "status");
    if (!s) s = "True";
    json_array_foreach(kj_get(pod, "status.conditions"), k, c) {
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
  json_array_foreach(rules, i, r) {
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
      snprintf(msg, len, "Pod %s/%s has condition %s matching %s rule at index %zu", kj_get_str(pod, "metadata.namespace"),
               kj_get_str(pod, "metadata.name"), ctype, action ? action : "", i);
    }
    if (!hit || !action) continue;
    if (!strcmp(action, "FailJob")) return JOB_POLICY_FAIL_JOB;
    if (!strcmp(action, "Ignore")) return JOB_POLICY_IGNORE;
    if (!strcmp(action, "Count")) return JOB_POLICY_COUNT;
    return JOB_POLICY_COUNT;  /* FailIndex without backoffLimitPerIndex counts */
  }
  return JOB_POLICY_NONE;
}
