/*
 * jobs.c - the batch/v1 Job strategy (upstream pkg/registry/batch/job,
 * SetDefaults_Job, ValidateJob, printJob).
 *
 * Unless spec.manualSelector is true, creation generates the selector:
 * the template gets the labels controller-uid / batch.kubernetes.io/
 * controller-uid (the Job's uid) and job-name / batch.kubernetes.io/
 * job-name, and spec.selector.matchLabels selects the uid label, so a
 * Job's pods can never be confused with another Job's.  Validation then
 * checks that those labels are still intact.  The selector, the template
 * and most of the spec are immutable after creation.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>
#include <kube/timeutil.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"
#include <kube/xalloc.h>

#define JOB_LEGACY_UID_LABEL "controller-uid"
#define JOB_UID_LABEL "batch.kubernetes.io/controller-uid"
#define JOB_LEGACY_NAME_LABEL "job-name"
#define JOB_NAME_LABEL "batch.kubernetes.io/job-name"

static void job_defaults(json_t *obj)
{
  json_t *spec = kj_obj(obj, "spec");
  if (!spec) return;
  if (!json_object_get(spec, "completions") && !json_object_get(spec, "parallelism")) {
    json_object_set_new(spec, "completions", json_integer(1));
    json_object_set_new(spec, "parallelism", json_integer(1));
  }
  kj_default(spec, "parallelism", json_integer(1));
  if (!json_object_get(spec, "backoffLimit"))
    json_object_set_new(spec, "backoffLimit",
                        json_integer(json_object_get(spec, "backoffLimitPerIndex") ? INT_MAX : 6));
  json_t *tlabels = kj_get(spec, "template.metadata.labels");
  json_t *labels = kj_get(obj, "metadata.labels");
  if (json_is_object(tlabels) && (!labels || json_object_size(labels) == 0))
    kj_set(obj, "metadata.labels", kj_deep_copy(tlabels));
  kj_default(spec, "completionMode", json_string("NonIndexed"));
  kj_default(spec, "suspend", json_false());
  size_t i, j;
  json_t *rule, *pat;
  json_array_foreach (kj_get(spec, "podFailurePolicy.rules"), i, rule) {
    json_array_foreach (json_object_get(rule, "onPodConditions"), j, pat) {
      if (json_is_object(pat)) kj_default(pat, "status", json_string("True"));
    }
  }
  kj_default(spec, "podReplacementPolicy",
             json_string(json_object_get(spec, "podFailurePolicy") ? "Failed" : "TerminatingOrFailed"));
  json_t *tmpl = json_object_get(spec, "template");
  if (json_is_object(tmpl)) reg_pod_template_defaults(tmpl);
}

static void set_if_absent(json_t *m, const char *k, const char *v)
{
  if (!json_object_get(m, k)) json_object_set_new(m, k, json_string(v));
}

static void job_prepare_create(struct reg_request *rq, json_t *obj)
{
  ext_prepare_create(rq, obj);
  if (kj_get_bool(obj, "spec.manualSelector", false)) return;
  const char *uid = kj_get_str(obj, "metadata.uid");
  if (!uid || !*uid) {
    char u[37];
    names_uuid(u);
    kj_set_str(obj, "metadata.uid", u);
    uid = kj_get_str(obj, "metadata.uid");
  }
  const char *name = reg_str_or(kj_get_str(obj, "metadata.name"), "");
  json_t *spec = kj_obj(obj, "spec");
  /* A missing template is reported by validation, not invented here. */
  json_t *tmpl = spec ? json_object_get(spec, "template") : NULL;
  json_t *labels = json_is_object(tmpl) ? kj_obj(tmpl, "metadata.labels") : NULL;
  if (!labels) return;
  set_if_absent(labels, JOB_LEGACY_NAME_LABEL, name);
  set_if_absent(labels, JOB_NAME_LABEL, name);
  set_if_absent(labels, JOB_LEGACY_UID_LABEL, uid);
  set_if_absent(labels, JOB_UID_LABEL, uid);
  json_t *ml = kj_obj(spec, "selector.matchLabels");
  if (ml) set_if_absent(ml, JOB_UID_LABEL, uid);
  /* Upstream re-runs defaulting whenever the object is read back, so the
   * Job's own labels end up copied from the (now generated) template
   * labels; do it once here to serve the same object. */
  if (json_object_size(kj_get(obj, "metadata.labels")) == 0) kj_set(obj, "metadata.labels", kj_deep_copy(labels));
}

static void check_int_field(const json_t *spec, const char *path, const char *key, json_t *causes)
{
  ext_nonneg(spec, path, key, causes);
}

/* Upstream's limits of Indexed Jobs (validation.go): at most 100000 pods
 * at once; completions and maxFailedIndexes bounded only together with
 * backoffLimitPerIndex, which itself needs Indexed mode. */
#define JOB_MAX_INDEXED_PARALLELISM 100000
#define JOB_MAX_COMPLETIONS_PER_INDEX_BACKOFF 100000
#define JOB_MAX_FAILED_INDEXES 100000

static void validate_indexed(const json_t *spec, const char *path, bool indexed, json_t *causes)
{
  char f[256];
  json_t *completions = json_object_get(spec, "completions"), *par = json_object_get(spec, "parallelism");
  json_t *per_index = json_object_get(spec, "backoffLimitPerIndex"), *mfi = json_object_get(spec, "maxFailedIndexes");
  if (per_index && !indexed) {
    snprintf(f, sizeof(f), "%s.backoffLimitPerIndex", path);
    reg_cause_add(causes, REG_INVALID, f, "Invalid value: %lld: requires indexed completion mode",
                  (long long)json_integer_value(per_index));
  }
  if (mfi && !per_index) {
    snprintf(f, sizeof(f), "%s.maxFailedIndexes", path);
    reg_cause_add(causes, REG_INVALID, f,
                  "Invalid value: %lld: cannot set maxFailedIndexes when backoffLimitPerIndex is null",
                  (long long)json_integer_value(mfi));
  }
  if (!indexed) return;
  if (!completions) {
    snprintf(f, sizeof(f), "%s.completions", path);
    reg_cause_add(causes, REG_REQUIRED, f, "Required value: when completion mode is Indexed");
  }
  if (json_integer_value(par) > JOB_MAX_INDEXED_PARALLELISM) {
    snprintf(f, sizeof(f), "%s.parallelism", path);
    reg_cause_add(causes, REG_INVALID, f,
                  "Invalid value: %lld: must be less than or equal to %d when completion mode is Indexed",
                  (long long)json_integer_value(par), JOB_MAX_INDEXED_PARALLELISM);
  }
  if (completions && mfi && json_integer_value(mfi) > json_integer_value(completions)) {
    snprintf(f, sizeof(f), "%s.maxFailedIndexes", path);
    reg_cause_add(causes, REG_INVALID, f, "Invalid value: %lld: must be less than or equal to completions",
                  (long long)json_integer_value(mfi));
  }
  if (json_integer_value(mfi) > JOB_MAX_FAILED_INDEXES) {
    snprintf(f, sizeof(f), "%s.maxFailedIndexes", path);
    reg_cause_add(causes, REG_INVALID, f, "Invalid value: %lld: must be less than or equal to %d",
                  (long long)json_integer_value(mfi), JOB_MAX_FAILED_INDEXES);
  }
  if (completions && per_index && json_integer_value(completions) > JOB_MAX_COMPLETIONS_PER_INDEX_BACKOFF) {
    snprintf(f, sizeof(f), "%s.completions", path);
    reg_cause_add(causes, REG_INVALID, f,
                  "Invalid value: %lld: must be less than or equal to %d when backoffLimitPerIndex is specified",
                  (long long)json_integer_value(completions), JOB_MAX_COMPLETIONS_PER_INDEX_BACKOFF);
  }
}

/* The controller names pods NAME-INDEX: the last one must be a DNS label. */
static void validate_indexed_name(const json_t *obj, json_t *causes)
{
  const char *mode = kj_get_str(obj, "spec.completionMode");
  int64_t completions = kj_get_int(obj, "spec.completions", 0);
  const char *name = kj_get_str(obj, "metadata.name");
  if (!mode || strcmp(mode, "Indexed") != 0 || completions <= 0 || !name) return;
  char host[512], msg[256];
  snprintf(host, sizeof host, "%s-%lld", name, (long long)(completions - 1));
  if (!names_is_dns1123_label(host, msg, sizeof msg))
    reg_cause_add(causes, REG_INVALID, "metadata.name",
                  "Invalid value: \"%s\": will not able to create pod with invalid DNS label: %s", name, host);
}

void ext_validate_job_spec(const json_t *spec, const char *path, json_t *causes)
{
  char f[256];
  static const char *const nonneg[] = {"parallelism",
                                       "completions",
                                       "activeDeadlineSeconds",
                                       "backoffLimit",
                                       "ttlSecondsAfterFinished",
                                       "backoffLimitPerIndex",
                                       "maxFailedIndexes",
                                       NULL};
  for (size_t i = 0; nonneg[i]; i++) check_int_field(spec, path, nonneg[i], causes);
  const char *mode = kj_get_str(spec, "completionMode");
  static const char *const modes[] = {"NonIndexed", "Indexed", NULL};
  snprintf(f, sizeof(f), "%s.completionMode", path);
  reg_check_enum(causes, f, mode, modes);
  validate_indexed(spec, path, mode && !strcmp(mode, "Indexed"), causes);
  const char *prp = kj_get_str(spec, "podReplacementPolicy");
  static const char *const prps[] = {"Failed", "TerminatingOrFailed", NULL};
  snprintf(f, sizeof(f), "%s.podReplacementPolicy", path);
  reg_check_enum(causes, f, prp, prps);

  json_t *tmpl = json_object_get(spec, "template");
  snprintf(f, sizeof(f), "%s.template", path);
  if (!json_is_object(tmpl)) {
    reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    return;
  }
  reg_validate_pod_template(tmpl, f, causes);
  const char *rp = kj_get_str(tmpl, "spec.restartPolicy");
  snprintf(f, sizeof(f), "%s.template.spec.restartPolicy", path);
  if (!rp || !*rp) reg_cause_add(causes, REG_REQUIRED, f, "Required value: valid values: \"OnFailure\", \"Never\"");
  else if (strcmp(rp, "OnFailure") && strcmp(rp, "Never")) {
    static const char *const allowed[] = {"OnFailure", "Never", NULL};
    reg_cause_not_supported(causes, f, rp, allowed);
  }
}

static void has_label(const json_t *labels, const char *key, const char *want, json_t *causes)
{
  char f[256];
  snprintf(f, sizeof(f), "spec.template.metadata.labels[%s]", key);
  json_t *v = json_is_object(labels) ? json_object_get(labels, key) : NULL;
  if (!v) {
    reg_cause_add(causes, REG_REQUIRED, f, "Required value: must be '%s'", want);
  } else if (!json_is_string(v) || strcmp(json_string_value(v), want)) {
    char *gv = ext_go_labels(labels);
    reg_cause_add(causes, REG_INVALID, f, "Invalid value: %s: must be '%s'", gv ? gv : "", want);
    free(gv);
  }
}

static void validate_generated_selector(const json_t *obj, json_t *causes)
{
  json_t *sel = kj_get(obj, "spec.selector");
  if (kj_get_bool(obj, "spec.manualSelector", false) || !sel) return;
  const char *uid = reg_str_or(kj_get_str(obj, "metadata.uid"), "");
  const char *name = reg_str_or(kj_get_str(obj, "metadata.name"), "");
  if (!*uid) reg_cause_add(causes, REG_REQUIRED, "metadata.uid", "Required value");
  json_t *labels = kj_get(obj, "spec.template.metadata.labels");
  has_label(labels, JOB_LEGACY_UID_LABEL, uid, causes);
  has_label(labels, JOB_LEGACY_NAME_LABEL, name, causes);
  has_label(labels, JOB_UID_LABEL, uid, causes);
  has_label(labels, JOB_NAME_LABEL, name, causes);
  json_t *expected = json_pack("{s:s,s:s,s:s,s:s}", JOB_LEGACY_UID_LABEL, uid, JOB_UID_LABEL, uid,
                               JOB_LEGACY_NAME_LABEL, name, JOB_NAME_LABEL, name);
  if (!reg_selector_matches(sel, expected)) {
    char *gv = reg_go_label_selector(sel);
    reg_cause_add(causes, REG_INVALID, "spec.selector", "Invalid value: %s: `selector` not auto-generated",
                  gv ? gv : "");
    free(gv);
  }
  json_decref(expected);
}

static void job_validate_update(const json_t *obj, const json_t *old, json_t *causes)
{
  const json_t *spec = json_object_get(obj, "spec"), *ospec = json_object_get(old, "spec");
  json_t *a = json_object_get(spec, "selector"), *b = json_object_get(ospec, "selector");
  if (!(a == b || (a && b && json_equal(a, b)))) {
    char *gv = a ? reg_go_label_selector(a) : xstrdup("nil");
    reg_cause_add(causes, REG_INVALID, "spec.selector", "Invalid value: %s: field is immutable", gv ? gv : "");
    free(gv);
  }
  /* Elastic Indexed Jobs may scale completions together with parallelism. */
  json_t *c = json_object_get(spec, "completions"), *oc = json_object_get(ospec, "completions");
  const char *mode = kj_get_str(spec, "completionMode");
  bool elastic = mode && !strcmp(mode, "Indexed") && c && json_equal(c, json_object_get(spec, "parallelism"));
  if (!elastic && !(c == oc || (c && oc && json_equal(c, oc))))
    reg_check_immutable(causes, "spec.completions", c ? c : json_null(), oc ? oc : json_null());
  static const char *const fixed[] = {"completionMode", "podFailurePolicy", "backoffLimitPerIndex",
                                      "managedBy",      "successPolicy",    NULL};
  for (size_t i = 0; fixed[i]; i++) {
    json_t *x = json_object_get(spec, fixed[i]), *y = json_object_get(ospec, fixed[i]);
    if (x == y || (x && y && json_equal(x, y))) continue;
    char f[64];
    snprintf(f, sizeof(f), "spec.%s", fixed[i]);
    ext_cause_invalid_any(causes, f, x ? x : json_null(), "field is immutable");
  }
  json_t *t = json_object_get(spec, "template"), *ot = json_object_get(ospec, "template");
  if (!(t == ot || (t && ot && json_equal(t, ot))))
    ext_cause_invalid_any(causes, "spec.template", t ? t : json_null(), "field is immutable");
}

static void job_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  reg_validate_object_meta(obj, true, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  if (old && ext_is_status(rq)) {
    static const char *const st[] = {"active", "succeeded", "failed", "ready", "terminating", NULL};
    for (size_t i = 0; st[i]; i++) ext_nonneg(json_object_get(obj, "status"), "status", st[i], causes);
    return;
  }
  const json_t *spec = json_object_get(obj, "spec");
  validate_generated_selector(obj, causes);
  json_t *sel = json_object_get(spec, "selector");
  if (!sel || json_is_null(sel)) {
    reg_cause_add(causes, REG_REQUIRED, "spec.selector", "Required value");
  } else {
    reg_validate_label_selector(sel, "spec.selector", causes);
    json_t *tmpl = json_object_get(spec, "template");
    if (json_is_object(tmpl)) ext_check_selector_matches(sel, tmpl, "spec.template", causes);
  }
  ext_validate_job_spec(spec, "spec", causes);
  validate_indexed_name(obj, causes);
  if (old) job_validate_update(obj, old, causes);
}

static const char *job_field_value(const json_t *obj, const char *field, char *buf, size_t len)
{
  if (strcmp(field, "status.successful")) return NULL;
  snprintf(buf, len, "%lld", (long long)kj_get_int(obj, "status.succeeded", 0));
  return buf;
}

static json_t *job_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  const char *status = "Running";
  if (ext_has_condition(obj, "Complete")) status = "Complete";
  else if (ext_has_condition(obj, "Failed")) status = "Failed";
  else if (kj_get(obj, "metadata.deletionTimestamp")) status = "Terminating";
  else if (ext_has_condition(obj, "Suspended")) status = "Suspended";
  else if (ext_has_condition(obj, "FailureTarget")) status = "FailureTarget";
  else if (ext_has_condition(obj, "SuccessCriteriaMet")) status = "SuccessCriteriaMet";
  reg_cell_str(row, status);

  char buf[96];
  long long succeeded = kj_get_int(obj, "status.succeeded", 0);
  long long par = kj_get_int(obj, "spec.parallelism", 0);
  if (kj_get(obj, "spec.completions"))
    snprintf(buf, sizeof(buf), "%lld/%lld", succeeded, (long long)kj_get_int(obj, "spec.completions", 0));
  else if (par > 1) snprintf(buf, sizeof(buf), "%lld/1 of %lld", succeeded, par);
  else snprintf(buf, sizeof(buf), "%lld/1", succeeded);
  reg_cell_str(row, buf);

  int64_t start, end;
  const char *st = kj_get_str(obj, "status.startTime"), *ct = kj_get_str(obj, "status.completionTime");
  buf[0] = 0;
  if (st && ktime_parse(st, &start) == 0) {
    if (!ct || ktime_parse(ct, &end) != 0) end = ktime_now_us();
    ext_duration((end - start) / 1000000, buf, sizeof(buf));
  }
  reg_cell_str(row, buf);
  json_array_append_new(row, reg_age_cell(obj));
  reg_cell_containers(row, kj_get(obj, "spec.template.spec"));
  char *sel = ext_selector_string(kj_get(obj, "spec.selector"));
  reg_cell_str(row, sel);
  free(sel);
  return row;
}

static const struct reg_column job_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Status", "string", "", 0, "Status of the job."},
    {"Completions", "string", "", 0, "The completion status of the job."},
    {"Duration", "string", "", 0, "Time required to complete the job."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {"Selector", "string", "", 1, "A label query over pods that should match the pod count."},
    {NULL},
};

static const char *const job_fields[] = {"status.successful", NULL};

const struct resource reg_jobs = {
    .generation = REG_GEN_SPEC,
    .group = "batch",
    .version = "v1",
    .plural = "jobs",
    .singular = "job",
    .kind = "Job",
    .namespaced = true,
    .short_names = {NULL},
    .categories = {"all", NULL},
    .subresources = RES_SUB_STATUS,
    .storage_prefix = "/registry/jobs",
    .field_selectors = job_fields,
    .defaults = job_defaults,
    .prepare_create = job_prepare_create,
    .prepare_update = ext_prepare_update,
    .validate = job_validate,
    .field_value = job_field_value,
    .columns = job_columns,
    .cells = job_cells,
};
