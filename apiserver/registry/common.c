/*
 * common.c - validation and formatting helpers shared by every kind's
 * strategy (upstream: apimachinery's field.ErrorList, ValidateObjectMeta,
 * ValidateLabels, ValidateLabelSelector, and the printers' age column).
 *
 * Causes are metav1.StatusCause objects {reason, message, field}; the
 * message is upstream's ErrorBody ("Required value", `Invalid value: "x":
 * detail`...), so `kubectl` prints exactly what upstream prints.  Values in
 * Invalid messages are rendered as Go's %#v would render them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/quantity.h>
#include <kube/names.h>
#include <kube/timeutil.h>

#include "apiserver.h"
#include "registry/reg_internal.h"
#include "registry/registry.h"
#include <kube/xalloc.h>

void reg_cause_add(json_t *causes, const char *reason, const char *field, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  json_t *c = json_object();
  json_object_set_new(c, "reason", json_string(reason));
  json_object_set_new(c, "message", json_string(msg ? msg : ""));
  json_object_set_new(c, "field", json_string(field ? field : ""));
  json_array_append_new(causes, c);
  free(msg);
}

const char *reg_str_or(const char *s, const char *dflt) { return s && *s ? s : dflt; }

/* Go's strconv.Quote for the ASCII we meet; non-ASCII passes through. */
static void go_quote(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c < 0x20) fprintf(f, "\\x%02x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

int reg_cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Sorted keys of an object; caller frees the array (not the strings). */
static const char **sorted_keys(const json_t *o, size_t *n)
{
  size_t cnt = json_object_size(o), i = 0;
  const char **keys = xcalloc(cnt + 1, sizeof(*keys));
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)o, k, v) keys[i++] = k;
  qsort(keys, i, sizeof(*keys), reg_cmp_str);
  *n = i;
  return keys;
}

char *reg_go_value(const json_t *v)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  if (!v || json_is_null(v)) {
    fputs("\"\"", f);
  } else if (json_is_string(v)) {
    go_quote(f, json_string_value(v));
  } else if (json_is_integer(v)) {
    fprintf(f, "%lld", (long long)json_integer_value(v));
  } else if (json_is_boolean(v)) {
    fputs(json_is_true(v) ? "true" : "false", f);
  } else if (json_is_object(v)) {
    size_t n;
    const char **keys = sorted_keys(v, &n);
    fputs("map[string]string{", f);
    for (size_t i = 0; i < n; i++) {
      if (i) fputs(", ", f);
      go_quote(f, keys[i]);
      fputc(':', f);
      json_t *e = json_object_get(v, keys[i]);
      go_quote(f, json_is_string(e) ? json_string_value(e) : "");
    }
    fputc('}', f);
    free(keys);
  } else if (json_is_array(v)) {
    size_t i;
    json_t *e;
    fputs("[]string{", f);
    json_array_foreach (v, i, e) {
      if (i) fputs(", ", f);
      go_quote(f, json_is_string(e) ? json_string_value(e) : "");
    }
    fputc('}', f);
  } else {
    char *s = kj_dumps_flags(v, JSON_COMPACT | JSON_ENCODE_ANY);
    fputs(s ? s : "", f);
    free(s);
  }
  fclose(f);
  return buf;
}

void reg_cause_invalid(json_t *causes, const char *field, const json_t *value, const char *detail)
{
  char *gv = reg_go_value(value);
  if (detail && *detail) reg_cause_add(causes, REG_INVALID, field, "Invalid value: %s: %s", gv ? gv : "", detail);
  else reg_cause_add(causes, REG_INVALID, field, "Invalid value: %s", gv ? gv : "");
  free(gv);
}

/* upstream's IsIntegerResourceName: the standard countable resources and
 * extended resources */
static bool integer_resource(const char *name)
{
  static const char *const ints[] = {"pods",
                                     "services",
                                     "replicationcontrollers",
                                     "resourcequotas",
                                     "secrets",
                                     "configmaps",
                                     "persistentvolumeclaims",
                                     "services.nodeports",
                                     "services.loadbalancers",
                                     NULL};
  for (const char *const *p = ints; *p; p++)
    if (!strcmp(*p, name)) return true;
  /* IsExtendedResourceName: not native (native = no slash, or containing
   * "kubernetes.io/") and not a quota "requests." name */
  return strchr(name, '/') && !strstr(name, "kubernetes.io/") && strncmp(name, "requests.", 9);
}

void reg_validate_resource_list(const json_t *list, const char *path, bool keyed, json_t *causes)
{
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)list, k, v) {
    struct quantity q;
    if (!json_is_string(v) || quantity_parse(json_string_value(v), &q) != 0) continue;
    char f[512];
    snprintf(f, sizeof(f), keyed ? "%s[%s]" : "%s.%s", path, k);
    if (quantity_sign(&q) < 0) reg_cause_invalid(causes, f, v, "must be greater than or equal to 0");
    if (integer_resource(k) && quantity_milli(&q) % 1000 != 0) reg_cause_invalid(causes, f, v, "must be an integer");
  }
}

void reg_cause_invalid_str(json_t *causes, const char *field, const char *value, const char *detail)
{
  json_t *s = json_string(value ? value : "");
  reg_cause_invalid(causes, field, s, detail);
  json_decref(s);
}

void reg_cause_not_supported(json_t *causes, const char *field, const char *value, const char *const *supported)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return;
  fputs("Unsupported value: ", f);
  go_quote(f, value ? value : "");
  if (supported && supported[0]) {
    fputs(": supported values: ", f);
    for (size_t i = 0; supported[i]; i++) {
      if (i) fputs(", ", f);
      go_quote(f, supported[i]);
    }
  }
  fclose(f);
  reg_cause_add(causes, REG_NOT_SUPPORTED, field, "%s", buf);
  free(buf);
}

void reg_check_enum(json_t *causes, const char *field, const char *value, const char *const *allowed)
{
  if (!value) return;
  for (size_t i = 0; allowed[i]; i++)
    if (!strcmp(value, allowed[i])) return;
  reg_cause_not_supported(causes, field, value, allowed);
}

void reg_check_immutable(json_t *causes, const char *field, const json_t *now, const json_t *old)
{
  if (now == old || (now && old && json_equal((json_t *)now, (json_t *)old))) return;
  reg_cause_invalid(causes, field, now, "field is immutable");
}

/* ---- object meta ---- */

#define REG_TOTAL_ANNOTATION_SIZE_LIMIT (256 * 1024)

void reg_validate_labels(const json_t *labels, const char *field, json_t *causes)
{
  if (!labels || json_is_null(labels)) return;
  if (!json_is_object(labels)) {
    reg_cause_invalid(causes, field, labels, "must be a map of strings");
    return;
  }
  const char *k;
  json_t *v;
  char msg[512];
  json_object_foreach ((json_t *)labels, k, v) {
    if (!names_is_qualified_name(k, msg, sizeof(msg))) reg_cause_invalid_str(causes, field, k, msg);
    const char *sv = json_is_string(v) ? json_string_value(v) : "";
    if (!names_is_label_value(sv, msg, sizeof(msg))) reg_cause_invalid_str(causes, field, sv, msg);
  }
}

void reg_validate_annotations(const json_t *ann, const char *field, json_t *causes)
{
  if (!ann || !json_is_object(ann)) return;
  const char *k;
  json_t *v;
  char msg[512];
  size_t total = 0;
  json_object_foreach ((json_t *)ann, k, v) {
    /* Upstream validates lower-cased keys as qualified names. */
    char *lk = xstrdup(k);
    for (char *p = lk; *p; p++)
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    if (!names_is_qualified_name(lk, msg, sizeof(msg))) reg_cause_invalid_str(causes, field, k, msg);
    free(lk);
    total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
  }
  if (total > REG_TOTAL_ANNOTATION_SIZE_LIMIT)
    reg_cause_add(causes, REG_TOO_LONG, field, "Too long: may not be more than %d bytes",
                  REG_TOTAL_ANNOTATION_SIZE_LIMIT);
}

void reg_validate_object_meta_fn(const json_t *obj, bool namespaced, reg_name_fn fn, json_t *causes)
{
  const char *name = kj_get_str(obj, "metadata.name");
  const char *ns = kj_get_str(obj, "metadata.namespace");
  char msg[512];

  if (!name || !*name) {
    reg_cause_add(causes, REG_REQUIRED, "metadata.name", "Required value: name or generateName is required");
  } else if (fn && !fn(name, msg, sizeof(msg))) {
    reg_cause_invalid_str(causes, "metadata.name", name, msg);
  }
  if (namespaced) {
    if (!ns || !*ns) reg_cause_add(causes, REG_REQUIRED, "metadata.namespace", "Required value");
    else if (!names_is_dns1123_label(ns, msg, sizeof(msg)))
      reg_cause_invalid_str(causes, "metadata.namespace", ns, msg);
  } else if (ns && *ns) {
    reg_cause_add(causes, REG_FORBIDDEN, "metadata.namespace", "Forbidden: not allowed on this type");
  }
  int64_t gen_n = kj_get_int(obj, "metadata.generation", 0);
  if (gen_n < 0) {
    json_t *g = json_integer(gen_n);
    reg_cause_invalid(causes, "metadata.generation", g, "must be greater than or equal to 0");
    json_decref(g);
  }
  reg_validate_labels(kj_get(obj, "metadata.labels"), "metadata.labels", causes);
  reg_validate_annotations(kj_get(obj, "metadata.annotations"), "metadata.annotations", causes);

  json_t *owners = kj_get(obj, "metadata.ownerReferences");
  size_t i;
  json_t *o;
  if (json_is_array(owners)) {
    json_array_foreach (owners, i, o) {
      char f[64];
      snprintf(f, sizeof(f), "metadata.ownerReferences[%zu]", i);
      const char *fields[] = {"apiVersion", "kind", "name", "uid"};
      for (size_t j = 0; j < 4; j++) {
        const char *s = kj_get_str(o, fields[j]);
        if (!s || !*s) {
          char ff[96];
          snprintf(ff, sizeof(ff), "%s.%s", f, fields[j]);
          reg_cause_add(causes, REG_INVALID, ff, "Invalid value: \"\": %s must not be empty",
                        j == 3 ? "uid" : fields[j]);
        }
      }
    }
  }
  json_t *fins = kj_get(obj, "metadata.finalizers");
  json_t *fz;
  if (json_is_array(fins)) {
    json_array_foreach (fins, i, fz) {
      const char *s = json_is_string(fz) ? json_string_value(fz) : "";
      if (!names_is_qualified_name(s, msg, sizeof(msg))) {
        char f[64];
        snprintf(f, sizeof(f), "metadata.finalizers[%zu]", i);
        reg_cause_invalid_str(causes, f, s, msg);
      }
    }
  }
}

void reg_validate_object_meta(const json_t *obj, bool namespaced, bool name_is_subdomain, json_t *causes)
{
  reg_validate_object_meta_fn(obj, namespaced, name_is_subdomain ? names_is_dns1123_subdomain : names_is_dns1123_label,
                              causes);
}

void reg_validate_object_meta_update(const json_t *obj, const json_t *old, json_t *causes)
{
  static const char *const immutable[] = {"metadata.name", "metadata.namespace", "metadata.uid",
                                          "metadata.creationTimestamp", NULL};
  for (size_t i = 0; immutable[i]; i++) {
    json_t *a = kj_get(obj, immutable[i]), *b = kj_get(old, immutable[i]);
    if (i >= 2 && !a) continue; /* the request path fills these from old */
    reg_check_immutable(causes, immutable[i], a ? a : json_null(), b ? b : json_null());
  }
}

/* ---- label selectors ---- */

void reg_validate_label_selector(const json_t *sel, const char *field, json_t *causes)
{
  if (!sel || json_is_null(sel)) return;
  char f[256], msg[512];
  snprintf(f, sizeof(f), "%s.matchLabels", field);
  reg_validate_labels(json_object_get(sel, "matchLabels"), f, causes);
  json_t *exprs = json_object_get(sel, "matchExpressions");
  size_t i;
  json_t *e;
  json_array_foreach (exprs, i, e) {
    const char *op = kj_get_str(e, "operator");
    const char *key = kj_get_str(e, "key");
    json_t *vals = json_object_get(e, "values");
    size_t nvals = json_is_array(vals) ? json_array_size(vals) : 0;
    if (op && (!strcmp(op, "In") || !strcmp(op, "NotIn"))) {
      if (nvals == 0) {
        snprintf(f, sizeof(f), "%s.matchExpressions[%zu].values", field, i);
        reg_cause_add(causes, REG_REQUIRED, f, "Required value: must be specified when `operator` is 'In' or 'NotIn'");
      }
    } else if (op && (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist"))) {
      if (nvals > 0) {
        snprintf(f, sizeof(f), "%s.matchExpressions[%zu].values", field, i);
        reg_cause_add(causes, REG_FORBIDDEN, f,
                      "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
      }
    } else {
      snprintf(f, sizeof(f), "%s.matchExpressions[%zu].operator", field, i);
      json_t *o = json_string(op ? op : "");
      reg_cause_invalid(causes, f, o, "not a valid selector operator");
      json_decref(o);
    }
    if (!names_is_qualified_name(key ? key : "", msg, sizeof(msg))) {
      snprintf(f, sizeof(f), "%s.matchExpressions[%zu].key", field, i);
      reg_cause_invalid_str(causes, f, key ? key : "", msg);
    }
  }
}

static bool str_in_array(const json_t *arr, const char *s)
{
  size_t i;
  json_t *v;
  json_array_foreach (arr, i, v)
    if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
  return false;
}

bool reg_selector_matches(const json_t *sel, const json_t *labels)
{
  if (!sel || !json_is_object(sel)) return false;
  const char *k;
  json_t *v;
  json_object_foreach (json_object_get(sel, "matchLabels"), k, v) {
    const char *lv = json_is_object(labels) ? json_string_value(json_object_get(labels, k)) : NULL;
    if (!lv || !json_is_string(v) || strcmp(lv, json_string_value(v))) return false;
  }
  size_t i;
  json_t *e;
  json_array_foreach (json_object_get(sel, "matchExpressions"), i, e) {
    const char *key = kj_get_str(e, "key"), *op = kj_get_str(e, "operator");
    if (!key || !op) return false;
    json_t *lvj = json_is_object(labels) ? json_object_get(labels, key) : NULL;
    const char *lv = json_is_string(lvj) ? json_string_value(lvj) : NULL;
    json_t *vals = json_object_get(e, "values");
    if (!strcmp(op, "In")) {
      if (!lv || !str_in_array(vals, lv)) return false;
    } else if (!strcmp(op, "NotIn")) {
      if (lv && str_in_array(vals, lv)) return false;
    } else if (!strcmp(op, "Exists")) {
      if (!lv) return false;
    } else if (!strcmp(op, "DoesNotExist")) {
      if (lv) return false;
    } else {
      return false;
    }
  }
  return true;
}

char *reg_format_labels(const json_t *labels)
{
  if (!json_is_object(labels) || json_object_size(labels) == 0) return xstrdup("<none>");
  char *buf = NULL;
  size_t len = 0, n;
  FILE *f = open_memstream(&buf, &len);
  const char **keys = sorted_keys(labels, &n);
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_object_get(labels, keys[i]);
    fprintf(f, "%s%s=%s", i ? "," : "", keys[i], json_is_string(v) ? json_string_value(v) : "");
  }
  free(keys);
  fclose(f);
  return buf;
}

/* labels.Selector.String(): requirements sorted by key; matchLabels are
 * "k=v", expressions "k in (a,b)", "k notin (a)", "k", "!k". */
struct req {
  const char *key;
  char *text;
};

static int cmp_req(const void *a, const void *b)
{
  return strcmp(((const struct req *)a)->key, ((const struct req *)b)->key);
}

char *reg_format_label_selector(const json_t *sel)
{
  if (!json_is_object(sel)) return xstrdup("");
  json_t *ml = json_object_get(sel, "matchLabels"), *me = json_object_get(sel, "matchExpressions");
  size_t cap = json_object_size(ml) + json_array_size(me), n = 0;
  struct req *reqs = xcalloc(cap + 1, sizeof(*reqs));
  const char *k;
  json_t *v;
  json_object_foreach (ml, k, v) {
    reqs[n].key = k;
    if (asprintf(&reqs[n].text, "%s=%s", k, json_is_string(v) ? json_string_value(v) : "") < 0) reqs[n].text = NULL;
    n++;
  }
  size_t i;
  json_t *e;
  json_array_foreach (me, i, e) {
    const char *key = kj_get_str(e, "key"), *op = kj_get_str(e, "operator");
    if (!key || !op) continue;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!strcmp(op, "Exists")) {
      fputs(key, f);
    } else if (!strcmp(op, "DoesNotExist")) {
      fprintf(f, "!%s", key);
    } else {
      /* values sorted, as upstream sorts them */
      json_t *vals = json_object_get(e, "values");
      size_t nv = json_array_size(vals), j;
      const char **vs = xcalloc(nv + 1, sizeof(*vs));
      json_t *x;
      size_t m = 0;
      json_array_foreach (vals, j, x)
        if (json_is_string(x)) vs[m++] = json_string_value(x);
      qsort(vs, m, sizeof(*vs), reg_cmp_str);
      fprintf(f, "%s %s (", key, !strcmp(op, "In") ? "in" : "notin");
      for (j = 0; j < m; j++) fprintf(f, "%s%s", j ? "," : "", vs[j]);
      fputc(')', f);
      free(vs);
    }
    fclose(f);
    reqs[n].key = key;
    reqs[n].text = buf;
    n++;
  }
  qsort(reqs, n, sizeof(*reqs), cmp_req);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  for (i = 0; i < n; i++) {
    fprintf(f, "%s%s", i ? "," : "", reqs[i].text ? reqs[i].text : "");
    free(reqs[i].text);
  }
  fclose(f);
  free(reqs);
  return out;
}

/* ---- misc ---- */

json_t *reg_age_cell(const json_t *obj)
{
  const char *ts = kj_get_str(obj, "metadata.creationTimestamp");
  int64_t us;
  char buf[32];
  if (!ts || ktime_parse(ts, &us) != 0) return json_string("<unknown>");
  int64_t secs = (ktime_now_us() - us) / 1000000;
  if (secs < 0) secs = 0;
  return json_string(ktime_human_age(secs, buf, sizeof(buf)));
}

char *reg_key(const struct resource *res, const char *ns, const char *name)
{
  char *key = NULL;
  int rc;
  if (res->namespaced && ns) rc = asprintf(&key, "%s/%s/%s", res->storage_prefix, ns, name);
  else rc = asprintf(&key, "%s/%s", res->storage_prefix, name);
  return rc < 0 ? NULL : key;
}

void reg_split_status(struct reg_request *rq, json_t *obj, const json_t *old)
{
  if (!old) return;
  if (rq && rq->subresource && !strcmp(rq->subresource, "status")) {
    /* Status writes may change only status (and labels/annotations, which
     * upstream's status strategies let through for some kinds: keep old). */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (obj, tmp, k, v) {
      if (strcmp(k, "status") && strcmp(k, "metadata") && strcmp(k, "kind") && strcmp(k, "apiVersion"))
        json_object_del(obj, k);
    }
    json_object_foreach ((json_t *)old, k, v) {
      if (strcmp(k, "status") && strcmp(k, "metadata") && strcmp(k, "kind") && strcmp(k, "apiVersion"))
        json_object_set_new(obj, k, kj_deep_copy(v));
    }
  } else if (!rq || !rq->subresource || !strcmp(rq->subresource, "scale")) {
    /* Other subresources (binding, finalize...) write what their handler
     * decided, status included. */
    json_t *st = json_object_get(old, "status");
    if (st) json_object_set_new(obj, "status", kj_deep_copy(st));
    else json_object_del(obj, "status");
  }
}

void reg_generation_create(json_t *obj) { kj_set_int(obj, "metadata.generation", 1); }

void reg_generation_update(json_t *obj, const json_t *old)
{
  int64_t g = kj_get_int(old, "metadata.generation", 0);
  json_t *a = json_object_get(obj, "spec"), *b = json_object_get(old, "spec");
  bool changed = !((a == NULL && b == NULL) || (a && b && json_equal(a, b)));
  /* Deletion start bumps generation too, as upstream does for kinds with
   * graceful deletion of controllers. */
  bool del_started = kj_get(obj, "metadata.deletionTimestamp") && !kj_get(old, "metadata.deletionTimestamp");
  kj_set_int(obj, "metadata.generation", g + ((changed || del_started) ? 1 : 0));
}

/* --- table cells --- */

json_t *reg_row(const json_t *obj)
{
  json_t *row = json_array();
  json_array_append_new(row, json_string(reg_str_or(kj_get_str(obj, "metadata.name"), "")));
  return row;
}

void reg_cell_str(json_t *row, const char *s) { json_array_append_new(row, json_string(s ? s : "")); }

void reg_cell_int(json_t *row, long long v) { json_array_append_new(row, json_integer(v)); }

void reg_cell_containers(json_t *row, const json_t *pod_spec)
{
  char *names = reg_container_names(pod_spec), *images = reg_container_images(pod_spec);
  reg_cell_str(row, names);
  reg_cell_str(row, images);
  free(names);
  free(images);
}

void reg_cell_workload_wide(json_t *row, const json_t *obj)
{
  reg_cell_containers(row, kj_get(obj, "spec.template.spec"));
  char *sel = reg_format_label_selector(kj_get(obj, "spec.selector"));
  reg_cell_str(row, sel);
  free(sel);
}
