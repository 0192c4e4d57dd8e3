/*
 * webhookconfigurations.c - the admissionregistration.k8s.io/v1
 * MutatingWebhookConfiguration and ValidatingWebhookConfiguration
 * strategies (upstream pkg/registry/admissionregistration,
 * pkg/apis/admissionregistration/v1 defaults and validation,
 * printMutatingWebhook/printValidatingWebhook).
 *
 * Both kinds are cluster scoped lists of webhooks; a mutating webhook has
 * reinvocationPolicy in addition.  Defaults: failurePolicy Fail,
 * matchPolicy Equivalent, empty namespace and object selectors,
 * timeoutSeconds 10, reinvocationPolicy Never, a rule's scope "*", a
 * service's port 443.  Validation follows upstream's for v1 objects
 * (sideEffects None or NoneOnDryRun, admissionReviewVersions naming v1 or
 * v1beta1, url https without user, query or fragment); matchConditions
 * (CEL) are stored with a Warning that they are not evaluated.  What calls the
 * webhooks is admission/webhook.c, which watches these objects.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>

#include "registry/ext_internal.h"
#include "registry/kinds_ext.h"

#define WH_MIN_TIMEOUT_S 1
#define WH_MAX_TIMEOUT_S 30

static void wh_defaults_common(json_t *obj, bool mutating)
{
  size_t i;
  json_t *h;
  json_array_foreach (json_object_get(obj, "webhooks"), i, h) {
    if (!json_is_object(h)) continue;
    kj_default(h, "failurePolicy", json_string("Fail"));
    kj_default(h, "matchPolicy", json_string("Equivalent"));
    kj_default(h, "namespaceSelector", json_object());
    kj_default(h, "objectSelector", json_object());
    kj_default(h, "timeoutSeconds", json_integer(10));
    if (mutating) kj_default(h, "reinvocationPolicy", json_string("Never"));
    size_t j;
    json_t *r;
    json_array_foreach (json_object_get(h, "rules"), j, r)
      if (json_is_object(r)) kj_default(r, "scope", json_string("*"));
    json_t *svc = kj_get(h, "clientConfig.service");
    if (json_is_object(svc)) kj_default(svc, "port", json_integer(443));
  }
}

static void mwc_defaults(json_t *obj) { wh_defaults_common(obj, true); }
static void vwc_defaults(json_t *obj) { wh_defaults_common(obj, false); }

static void check_string_list(const json_t *list, const char *field, const char *what, const char *const *supported,
                              json_t *causes)
{
  char f[256];
  if (json_array_size(list) == 0) {
    reg_cause_add(causes, REG_REQUIRED, field, "Required value");
    return;
  }
  bool star = false;
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v)
    if (json_is_string(v) && !strcmp(json_string_value(v), "*")) star = true;
  if (star && json_array_size(list) > 1)
    reg_cause_invalid(causes, field, list, what);
  if (!supported) return;
  json_array_foreach (list, i, v) {
    snprintf(f, sizeof f, "%s[%zu]", field, i);
    reg_check_enum(causes, f, json_string_value(v), supported);
  }
}

static void validate_rule(const json_t *r, const char *path, json_t *causes)
{
  static const char *const ops[] = {"*", "CONNECT", "CREATE", "DELETE", "UPDATE", NULL};
  static const char *const scopes[] = {"*", "Cluster", "Namespaced", NULL};
  char f[256];
  snprintf(f, sizeof f, "%s.operations", path);
  check_string_list(json_object_get(r, "operations"), f, "if '*' is present, must not specify other operations", ops,
                    causes);
  snprintf(f, sizeof f, "%s.apiGroups", path);
  check_string_list(json_object_get(r, "apiGroups"), f, "if '*' is present, must not specify other API groups", NULL,
                    causes);
  snprintf(f, sizeof f, "%s.apiVersions", path);
  check_string_list(json_object_get(r, "apiVersions"), f, "if '*' is present, must not specify other API versions",
                    NULL, causes);
  snprintf(f, sizeof f, "%s.resources", path);
  const json_t *res = json_object_get(r, "resources");
  if (json_array_size(res) == 0) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
  size_t i;
  json_t *v;
  json_array_foreach (res, i, v) {
    const char *s = json_string_value(v);
    char fi[300];
    snprintf(fi, sizeof fi, "%s[%zu]", f, i);
    if (!s || !*s) reg_cause_add(causes, REG_REQUIRED, fi, "Required value");
  }
  snprintf(f, sizeof f, "%s.scope", path);
  reg_check_enum(causes, f, kj_get_str(r, "scope"), scopes);
}

/* upstream's webhook.ValidateWebhookURL with https forced. */
static void validate_url(const char *u, const char *field, json_t *causes)
{
  static const char form[] = "; desired format: https://host[/path]";
  char msg[256];
  const char *s = strstr(u, "://");
  char scheme[64] = "";
  if (s) snprintf(scheme, sizeof scheme, "%.*s", (int)(s - u), u);
  if (strcmp(scheme, "https") != 0) {
    snprintf(msg, sizeof msg, "'https' is the only allowed URL scheme%s", form);
    reg_cause_invalid_str(causes, field, scheme, msg);
  }
  const char *auth = s ? s + 3 : u;
  size_t alen = strcspn(auth, "/?#");
  const char *at = memchr(auth, '@', alen);
  const char *host = at ? at + 1 : auth;
  size_t hlen = alen - (size_t)(host - auth);
  if (!s || hlen == 0) {
    snprintf(msg, sizeof msg, "host must be specified%s", form);
    reg_cause_invalid_str(causes, field, "", msg);
  }
  if (at) {
    char user[256];
    snprintf(user, sizeof user, "%.*s", (int)(at - auth), auth);
    reg_cause_invalid_str(causes, field, user, "user information is not permitted in the URL");
  }
  const char *q = strchr(auth, '?'), *frag = strchr(auth, '#');
  if (frag && frag[1]) reg_cause_invalid_str(causes, field, frag + 1, "fragments are not permitted in the URL");
  if (q && (!frag || q < frag) && q[1] && q[1] != '#') {
    char query[512];
    snprintf(query, sizeof query, "%.*s", frag ? (int)(frag - q - 1) : (int)strlen(q + 1), q + 1);
    reg_cause_invalid_str(causes, field, query, "query parameters are not permitted in the URL");
  }
}

static void validate_service(const json_t *svc, const char *path, json_t *causes)
{
  char f[300];
  snprintf(f, sizeof f, "%s.name", path);
  if (!reg_str_or(kj_get_str(svc, "name"), NULL)) reg_cause_add(causes, REG_REQUIRED, f, "Required value: service name is required");
  snprintf(f, sizeof f, "%s.namespace", path);
  if (!reg_str_or(kj_get_str(svc, "namespace"), NULL))
    reg_cause_add(causes, REG_REQUIRED, f, "Required value: service namespace is required");
  json_t *port = json_object_get(svc, "port");
  long long p = json_is_integer(port) ? json_integer_value(port) : 443;
  if (p < 1 || p > 65535) {
    snprintf(f, sizeof f, "%s.port", path);
    reg_cause_add(causes, REG_INVALID, f, "Invalid value: %lld: port is not valid: must be between 1 and 65535, inclusive",
                  p);
  }
  const char *sp = kj_get_str(svc, "path");
  if (sp && *sp && strcmp(sp, "/") != 0) {
    snprintf(f, sizeof f, "%s.path", path);
    if (!strcmp(sp, "//")) reg_cause_invalid_str(causes, f, sp, "segment[0] may not be empty");
    else if (sp[0] != '/') reg_cause_invalid_str(causes, f, sp, "must start with a '/'");
  }
}

static void validate_client_config(const json_t *cc, const char *path, json_t *causes)
{
  char f[300];
  const char *url = kj_get_str(cc, "url");
  const json_t *svc = json_object_get(cc, "service");
  bool has_svc = json_is_object(svc);
  if ((url != NULL) == has_svc) {
    reg_cause_add(causes, REG_REQUIRED, path, "Required value: exactly one of url or service is required");
    return;
  }
  if (url) {
    snprintf(f, sizeof f, "%s.url", path);
    validate_url(url, f, causes);
  } else {
    snprintf(f, sizeof f, "%s.service", path);
    validate_service(svc, f, causes);
  }
}

static void validate_review_versions(const json_t *vs, const char *path, json_t *causes)
{
  if (json_array_size(vs) == 0) {
    reg_cause_add(causes, REG_REQUIRED, path, "Required value: must specify one of v1, v1beta1");
    return;
  }
  bool known = false;
  size_t i;
  json_t *v;
  json_array_foreach (vs, i, v) {
    const char *s = json_string_value(v);
    char f[300], msg[256];
    snprintf(f, sizeof f, "%s[%zu]", path, i);
    if (s && !names_is_dns1035_label(s, msg, sizeof msg)) reg_cause_invalid_str(causes, f, s, msg);
    for (size_t j = 0; j < i; j++)
      if (s && json_equal(json_array_get(vs, j), v)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", s);
    if (s && (!strcmp(s, "v1") || !strcmp(s, "v1beta1"))) known = true;
  }
  if (!known) reg_cause_invalid(causes, path, vs, "must include at least one of v1, v1beta1");
}

static void validate_webhook_name(const char *name, const char *field, json_t *causes)
{
  char msg[256];
  if (!name || !*name) {
    reg_cause_add(causes, REG_REQUIRED, field, "Required value");
    return;
  }
  int dots = 0;
  for (const char *p = name; *p; p++) dots += *p == '.';
  if (!names_is_dns1123_subdomain(name, msg, sizeof msg)) reg_cause_invalid_str(causes, field, name, msg);
  else if (dots < 2) reg_cause_invalid_str(causes, field, name, "should be a domain with at least three segments separated by dots");
}

static void validate_webhook(const json_t *h, size_t idx, bool mutating, json_t *causes)
{
  static const char *const fail_policies[] = {"Fail", "Ignore", NULL};
  static const char *const match_policies[] = {"Equivalent", "Exact", NULL};
  static const char *const side_effects[] = {"None", "NoneOnDryRun", NULL};
  static const char *const reinvocation[] = {"IfNeeded", "Never", NULL};
  char p[64], f[160];
  snprintf(p, sizeof p, "webhooks[%zu]", idx);
  snprintf(f, sizeof f, "%s.name", p);
  validate_webhook_name(kj_get_str(h, "name"), f, causes);
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get(h, "rules"), i, r) {
    snprintf(f, sizeof f, "%s.rules[%zu]", p, i);
    validate_rule(r, f, causes);
  }
  snprintf(f, sizeof f, "%s.failurePolicy", p);
  reg_check_enum(causes, f, kj_get_str(h, "failurePolicy"), fail_policies);
  snprintf(f, sizeof f, "%s.matchPolicy", p);
  reg_check_enum(causes, f, kj_get_str(h, "matchPolicy"), match_policies);
  snprintf(f, sizeof f, "%s.sideEffects", p);
  const char *se = kj_get_str(h, "sideEffects");
  if (!se) reg_cause_add(causes, REG_REQUIRED, f, "Required value: must specify one of None, NoneOnDryRun");
  else reg_check_enum(causes, f, se, side_effects);
  json_t *to = json_object_get(h, "timeoutSeconds");
  if (json_is_integer(to) && (json_integer_value(to) < WH_MIN_TIMEOUT_S || json_integer_value(to) > WH_MAX_TIMEOUT_S)) {
    snprintf(f, sizeof f, "%s.timeoutSeconds", p);
    reg_cause_add(causes, REG_INVALID, f, "Invalid value: %lld: the timeout value must be between 1 and 30 seconds",
                  (long long)json_integer_value(to));
  }
  snprintf(f, sizeof f, "%s.namespaceSelector", p);
  reg_validate_label_selector(json_object_get(h, "namespaceSelector"), f, causes);
  snprintf(f, sizeof f, "%s.objectSelector", p);
  reg_validate_label_selector(json_object_get(h, "objectSelector"), f, causes);
  snprintf(f, sizeof f, "%s.admissionReviewVersions", p);
  validate_review_versions(json_object_get(h, "admissionReviewVersions"), f, causes);
  if (mutating) {
    snprintf(f, sizeof f, "%s.reinvocationPolicy", p);
    reg_check_enum(causes, f, kj_get_str(h, "reinvocationPolicy"), reinvocation);
  }
  snprintf(f, sizeof f, "%s.clientConfig", p);
  validate_client_config(json_object_get(h, "clientConfig"), f, causes);
}

static void wh_validate(const json_t *obj, const json_t *old, bool mutating, json_t *causes)
{
  reg_validate_object_meta(obj, false, true, causes);
  if (old) reg_validate_object_meta_update(obj, old, causes);
  const json_t *hooks = json_object_get(obj, "webhooks");
  size_t i;
  json_t *h;
  json_array_foreach (hooks, i, h) {
    validate_webhook(h, i, mutating, causes);
    const char *name = kj_get_str(h, "name");
    for (size_t j = 0; name && *name && j < i; j++) {
      const char *other = kj_get_str(json_array_get(hooks, j), "name");
      if (other && !strcmp(other, name)) {
        char f[64];
        snprintf(f, sizeof f, "webhooks[%zu].name", i);
        reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", name);
        break;
      }
    }
  }
}

/* matchConditions are CEL expressions, which this server does not
 * evaluate yet: said in a Warning rather than silently ignored. */
static void warn_match_conditions(struct reg_request *rq, const json_t *obj)
{
  size_t i;
  json_t *h;
  json_array_foreach (json_object_get(obj, "webhooks"), i, h) {
    if (!rq->warnings || json_array_size(json_object_get(h, "matchConditions")) == 0) continue;
    char msg[512];
    snprintf(msg, sizeof msg,
             "webhooks[%zu].matchConditions: CEL expressions are not evaluated by this API server yet; the webhook "
             "is called for every request its rules and selectors match",
             i);
    json_array_append_new(rq->warnings, json_string(msg));
  }
}

static void mwc_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  wh_validate(obj, old, true, causes);
  warn_match_conditions(rq, obj);
}

static void vwc_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes)
{
  wh_validate(obj, old, false, causes);
  warn_match_conditions(rq, obj);
}

static json_t *wh_cells(const json_t *obj)
{
  json_t *row = reg_row(obj);
  reg_cell_int(row, (long long)json_array_size(json_object_get(obj, "webhooks")));
  json_array_append_new(row, reg_age_cell(obj));
  return row;
}

static const struct reg_column wh_columns[] = {
    {"Name", "string", "name", 0, EXT_DESC_NAME},
    {"Webhooks", "integer", "", 0, "Webhooks is a list of webhooks and the affected resources and operations."},
    {"Age", "string", "", 0, EXT_DESC_AGE},
    {NULL},
};

const struct resource reg_mutatingwebhookconfigurations = {
    .generation = REG_GEN_SPEC,
    .group = "admissionregistration.k8s.io",
    .version = "v1",
    .plural = "mutatingwebhookconfigurations",
    .singular = "mutatingwebhookconfiguration",
    .kind = "MutatingWebhookConfiguration",
    .namespaced = false,
    .short_names = {NULL},
    .categories = {"api-extensions", NULL},
    .storage_prefix = "/registry/mutatingwebhookconfigurations",
    .defaults = mwc_defaults,
    .validate = mwc_validate,
    .columns = wh_columns,
    .cells = wh_cells,
};

const struct resource reg_validatingwebhookconfigurations = {
    .generation = REG_GEN_SPEC,
    .group = "admissionregistration.k8s.io",
    .version = "v1",
    .plural = "validatingwebhookconfigurations",
    .singular = "validatingwebhookconfiguration",
    .kind = "ValidatingWebhookConfiguration",
    .namespaced = false,
    .short_names = {NULL},
    .categories = {"api-extensions", NULL},
    .storage_prefix = "/registry/validatingwebhookconfigurations",
    .defaults = vwc_defaults,
    .validate = vwc_validate,
    .columns = wh_columns,
    .cells = wh_cells,
};
