/*
 * env.c - container environments (see env.h).  Pure: objects come
 * through the context's getter, so the rules are unit-tested without a
 * cluster (tests/unit/kl_test_env.c).
 */
#define _GNU_SOURCE
#include "env.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/json.h"
#include "kube/base64.h"
#include "kube/quantity.h"
#include "kube/xalloc.h"

bool kl_is_env_var_name(const char *s)
{
  /* v1.32 (RelaxedEnvironmentVariableValidation, on by default): any
   * printable ASCII character except '=' */
  if (!s || !*s) return false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 32 || *p > 126 || *p == '=') return false;
  return true;
}

char *kl_env_expand(const char *in, const json_t *vars)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  for (const char *p = in; *p; p++) {
    if (*p != '$' || !p[1]) {
      fputc(*p, f);
      continue;
    }
    if (p[1] == '$') { /* escaped */
      fputc('$', f);
      p++;
      continue;
    }
    if (p[1] != '(') {
      fputc('$', f);
      continue;
    }
    const char *close = strchr(p + 2, ')');
    if (!close) { /* unterminated: literal */
      fputs(p, f);
      break;
    }
    char name[512];
    snprintf(name, sizeof name, "%.*s", (int)(close - p - 2), p + 2);
    const char *v = json_string_value(json_object_get(vars, name));
    if (v && close > p + 2) fputs(v, f);
    else fprintf(f, "$(%s)", name);
    p = close;
  }
  fclose(f);
  return buf;
}

/* ---- service variables ---- */

static void env_name(const char *svc, char *out, size_t len)
{
  size_t j = 0;
  for (const char *p = svc; *p && j < len - 1; p++) out[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
  out[j] = 0;
}

static void set_fmt(json_t *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_fmt(json_t *o, const char *key, const char *fmt, ...)
{
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_object_set_new(o, key, json_string(buf));
}

static void add_service(json_t *out, const json_t *svc)
{
  const char *ip = kj_get_str(svc, "spec.clusterIP");
  if (!ip || !*ip || !strcmp(ip, "None")) return;
  char n[256], k[512];
  env_name(kj_get_str(svc, "metadata.name") ?: "", n, sizeof n);
  json_t *ports = kj_get(svc, "spec.ports");
  snprintf(k, sizeof k, "%s_SERVICE_HOST", n);
  set_fmt(out, k, "%s", ip);
  json_t *first = json_array_get(ports, 0);
  if (first) {
    snprintf(k, sizeof k, "%s_SERVICE_PORT", n);
    set_fmt(out, k, "%lld", (long long)kj_get_int(first, "port", 0));
  }
  size_t i;
  json_t *pt;
  json_array_foreach (ports, i, pt) {
    const char *pname = kj_get_str(pt, "name");
    long long port = (long long)kj_get_int(pt, "port", 0);
    if (pname && *pname) {
      char pn[128];
      env_name(pname, pn, sizeof pn);
      snprintf(k, sizeof k, "%s_SERVICE_PORT_%s", n, pn);
      set_fmt(out, k, "%lld", port);
    }
  }
  if (!first) return;
  /* docker-link variables */
  char proto[16];
  const char *pr = kj_get_str(first, "protocol") ?: "TCP";
  snprintf(proto, sizeof proto, "%s", pr);
  for (char *c = proto; *c; c++) *c = (char)tolower((unsigned char)*c);
  snprintf(k, sizeof k, "%s_PORT", n);
  set_fmt(out, k, "%s://%s:%lld", proto, ip, (long long)kj_get_int(first, "port", 0));
  json_array_foreach (ports, i, pt) {
    const char *p2 = kj_get_str(pt, "protocol") ?: "TCP";
    char lp[16], up[16];
    snprintf(lp, sizeof lp, "%s", p2);
    snprintf(up, sizeof up, "%s", p2);
    for (char *c = lp; *c; c++) *c = (char)tolower((unsigned char)*c);
    for (char *c = up; *c; c++) *c = (char)toupper((unsigned char)*c);
    long long port = (long long)kj_get_int(pt, "port", 0);
    char base[400];
    snprintf(base, sizeof base, "%s_PORT_%lld_%s", n, port, up);
    set_fmt(out, base, "%s://%s:%lld", lp, ip, port);
    snprintf(k, sizeof k, "%s_PROTO", base);
    set_fmt(out, k, "%s", lp);
    snprintf(k, sizeof k, "%s_PORT", base);
    set_fmt(out, k, "%lld", port);
    snprintf(k, sizeof k, "%s_ADDR", base);
    set_fmt(out, k, "%s", ip);
  }
}

json_t *kl_service_env(const json_t *services, const char *ns, bool enable_links)
{
  json_t *out = json_object();
  size_t i;
  json_t *s;
  /* The pod's own namespace first; the master service wins last. */
  json_array_foreach (services, i, s) {
    const char *sns = kj_get_str(s, "metadata.namespace") ?: "";
    const char *name = kj_get_str(s, "metadata.name") ?: "";
    if (!strcmp(sns, "default") && !strcmp(name, "kubernetes")) continue;
    if (enable_links && !strcmp(sns, ns)) add_service(out, s);
  }
  json_array_foreach (services, i, s) {
    if (!strcmp(kj_get_str(s, "metadata.namespace") ?: "", "default") &&
        !strcmp(kj_get_str(s, "metadata.name") ?: "", "kubernetes"))
      add_service(out, s);
  }
  return out;
}

/* ---- valueFrom ---- */

static char *bracket_key(const char *path, const char *prefix)
{
  size_t pl = strlen(prefix);
  if (strncmp(path, prefix, pl) || path[pl] != '[') return NULL;
  const char *p = path + pl + 1;
  char q = *p;
  if (q != '\'' && q != '"') return NULL;
  const char *end = strchr(p + 1, q);
  if (!end || end[1] != ']' || end[2]) return NULL;
  return xstrndup(p + 1, (size_t)(end - p - 1));
}

char *kl_field_ref(const json_t *pod, const char *path, const char *host_ip, const char *pod_ip, char *err,
                   size_t errlen)
{
  static const struct {
    const char *path, *field;
  } simple[] = {
      {"metadata.name", "metadata.name"},
      {"metadata.namespace", "metadata.namespace"},
      {"metadata.uid", "metadata.uid"},
      {"spec.nodeName", "spec.nodeName"},
      {"spec.serviceAccountName", "spec.serviceAccountName"},
  };
  for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
    if (!strcmp(path, simple[i].path)) return xstrdup(kj_get_str(pod, simple[i].field) ?: "");
  if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs")) return xstrdup(host_ip ? host_ip : "");
  if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs")) return xstrdup(pod_ip ? pod_ip : "");
  const char *maps[] = {"metadata.labels", "metadata.annotations"};
  for (int i = 0; i < 2; i++) {
    char *key = bracket_key(path, maps[i]);
    if (!key) continue;
    const char *v = json_string_value(json_object_get(kj_get(pod, maps[i]), key));
    free(key);
    return xstrdup(v ? v : "");
  }
  snprintf(err, errlen, "unsupported fieldPath: %s", path);
  return NULL;
}

char *kl_resource_field_ref(const json_t *container, const json_t *ref, const json_t *alloc, char *err, size_t errlen)
{
  const char *res = kj_get_str(ref, "resource") ?: "";
  const char *dot = strchr(res, '.');
  if (!dot || (strncmp(res, "limits", 6) && strncmp(res, "requests", 8))) {
    snprintf(err, errlen, "unsupported container resource : %s", res);
    return NULL;
  }
  char kind[16];
  snprintf(kind, sizeof kind, "%.*s", (int)(dot - res), res);
  const char *name = dot + 1;
  json_t *list = json_object_get(kj_get(container, "resources"), kind);
  const char *v = json_string_value(json_object_get(list, name));
  if (!v && !strcmp(kind, "limits")) v = json_string_value(json_object_get(alloc, name));
  struct quantity q, div;
  quantity_set_int(&q, 0, QF_DECIMAL_SI);
  quantity_set_int(&div, 1, QF_DECIMAL_SI);
  if (v && quantity_parse(v, &q) < 0) {
    snprintf(err, errlen, "invalid quantity %s", v);
    return NULL;
  }
  const char *d = json_is_string(kj_get(ref, "divisor")) ? kj_get_str(ref, "divisor") : NULL;
  if (d && (quantity_parse(d, &div) < 0 || quantity_sign(&div) <= 0)) {
    snprintf(err, errlen, "invalid divisor %s", d);
    return NULL;
  }
  long long out;
  /* ceil(value / divisor) on the exact nano values */
  __int128 num = q.nano, den = div.nano;
  out = (long long)(num / den + (num % den > 0 ? 1 : 0));
  char *s = NULL;
  s = xasprintf("%lld", out);
  return s;
}

/* ---- the whole environment ---- */

struct builder {
  const struct kl_env_ctx *c;
  json_t *vars;  /* name -> value, as defined so far */
  json_t *order; /* names in definition order */
  char *err;
  size_t errlen;
};

static void define(struct builder *b, const char *name, const char *value)
{
  if (!json_object_get(b->vars, name)) json_array_append_new(b->order, json_string(name));
  json_object_set_new(b->vars, name, json_string(value));
}

/* The data of a ConfigMap (plain) or Secret (base64) as name -> string. */
static json_t *object_data(const char *kind, const json_t *obj)
{
  json_t *out = json_object();
  const char *k;
  json_t *v;
  json_object_foreach (kj_get(obj, "data"), k, v) {
    if (!strcmp(kind, "ConfigMap")) {
      json_object_set(out, k, v);
      continue;
    }
    const char *b64 = json_string_value(v) ?: "";
    unsigned char *dec = NULL;
    size_t n = 0, bad = 0;
    if (kb64_decode(b64, strlen(b64), KB64_STD, &dec, &n, &bad) == 0)
      json_object_set_new(out, k, json_stringn((char *)dec, n));
    free(dec);
  }
  return out;
}

static const char *kind_word(const char *kind) { return !strcmp(kind, "ConfigMap") ? "configmap" : "secret"; }

#define MISSING_OPTIONAL 2

/* Fetches kind ns/name: 0, KL_ENV_PENDING, KL_ENV_ERROR or MISSING_OPTIONAL. */
static int fetch(struct builder *b, const char *kind, const char *name, bool optional, json_t **data)
{
  const json_t *obj = NULL;
  const char *ns = kj_get_str(b->c->pod, "metadata.namespace") ?: "";
  int rc = b->c->get_object(b->c->arg, kind, ns, name, &obj);
  if (rc == -EAGAIN) return KL_ENV_PENDING;
  if (rc < 0) {
    if (optional) return MISSING_OPTIONAL;
    snprintf(b->err, b->errlen, "%s \"%s\" not found", kind_word(kind), name);
    return KL_ENV_ERROR;
  }
  *data = object_data(kind, obj);
  return 0;
}

static int env_from(struct builder *b, const json_t *src)
{
  const char *kind = kj_get(src, "configMapRef") ? "ConfigMap" : kj_get(src, "secretRef") ? "Secret" : NULL;
  if (!kind) return 0;
  const json_t *ref = kj_get(src, !strcmp(kind, "ConfigMap") ? "configMapRef" : "secretRef");
  const char *name = kj_get_str(ref, "name") ?: "";
  json_t *data = NULL;
  int rc = fetch(b, kind, name, kj_get_bool(ref, "optional", false), &data);
  if (rc) return rc == MISSING_OPTIONAL ? 0 : rc;
  const char *prefix = kj_get_str(src, "prefix") ?: "";
  char invalid[1024] = "";
  const char *k;
  json_t *v;
  json_object_foreach (data, k, v) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", prefix, k);
    if (!kl_is_env_var_name(full)) {
      snprintf(invalid + strlen(invalid), sizeof invalid - strlen(invalid), "%s%s", invalid[0] ? ", " : "", full);
      continue;
    }
    define(b, full, json_string_value(v));
  }
  json_decref(data);
  if (invalid[0] && b->c->warn) {
    char msg[1400];
    snprintf(msg, sizeof msg,
             "Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment "
             "variable names.",
             invalid, kind_word(kind), kj_get_str(b->c->pod, "metadata.namespace") ?: "", name);
    b->c->warn(b->c->arg, "InvalidEnvironmentVariableNames", msg);
  }
  return 0;
}

static int key_ref(struct builder *b, const char *kind, const json_t *ref, char **value)
{
  const char *name = kj_get_str(ref, "name") ?: "", *key = kj_get_str(ref, "key") ?: "";
  bool optional = kj_get_bool(ref, "optional", false);
  json_t *data = NULL;
  int rc = fetch(b, kind, name, optional, &data);
  if (rc) return rc;
  const char *v = json_string_value(json_object_get(data, key));
  if (!v) {
    json_decref(data);
    if (optional) return MISSING_OPTIONAL;
    snprintf(b->err, b->errlen, "couldn't find key %s in %s %s/%s", key, kind,
             kj_get_str(b->c->pod, "metadata.namespace") ?: "", name);
    return KL_ENV_ERROR;
  }
  *value = xstrdup(v);
  json_decref(data);
  return 0;
}

static int env_var(struct builder *b, const json_t *e, const json_t *service_vars)
{
  const char *name = kj_get_str(e, "name") ?: "";
  json_t *vf = kj_get(e, "valueFrom");
  char *value = NULL;
  int rc = 0;
  if (!vf) {
    json_t *scope = json_copy((json_t *)service_vars);
    json_object_update(scope, b->vars);
    value = kl_env_expand(kj_get_str(e, "value") ?: "", scope);
    json_decref(scope);
  } else if (kj_get(vf, "fieldRef")) {
    value = kl_field_ref(b->c->pod, kj_get_str(vf, "fieldRef.fieldPath") ?: "", b->c->host_ip, b->c->pod_ip, b->err,
                         b->errlen);
    if (!value) rc = KL_ENV_ERROR;
  } else if (kj_get(vf, "resourceFieldRef")) {
    value = kl_resource_field_ref(b->c->container, kj_get(vf, "resourceFieldRef"), b->c->node_allocatable, b->err,
                                  b->errlen);
    if (!value) rc = KL_ENV_ERROR;
  } else if (kj_get(vf, "configMapKeyRef")) {
    rc = key_ref(b, "ConfigMap", kj_get(vf, "configMapKeyRef"), &value);
  } else if (kj_get(vf, "secretKeyRef")) {
    rc = key_ref(b, "Secret", kj_get(vf, "secretKeyRef"), &value);
  }
  if (rc == 0 && value) define(b, name, value);
  free(value);
  return rc == MISSING_OPTIONAL ? 0 : rc;
}

int kl_env_build(const struct kl_env_ctx *c, json_t **out, char *err, size_t errlen)
{
  struct builder b = {c, json_object(), json_array(), err, errlen};
  int rc = 0;
  const char *ns = kj_get_str(c->pod, "metadata.namespace") ?: "";
  json_t *svc = kl_service_env(c->services, ns, kj_get_bool(c->pod, "spec.enableServiceLinks", true));
  size_t i;
  json_t *e;
  json_array_foreach (kj_get(c->container, "envFrom"), i, e)
    if ((rc = env_from(&b, e)) != 0) goto out;
  json_array_foreach (kj_get(c->container, "env"), i, e)
    if ((rc = env_var(&b, e, svc)) != 0) goto out;
  *out = json_array();
  json_array_foreach (b.order, i, e) {
    const char *n = json_string_value(e);
    json_array_append_new(*out, json_pack("{s:s, s:O}", "key", n, "value", json_object_get(b.vars, n)));
  }
  const char *k;
  json_t *v;
  json_object_foreach (svc, k, v) {
    if (!json_object_get(b.vars, k)) json_array_append_new(*out, json_pack("{s:s, s:O}", "key", k, "value", v));
  }
out:
  json_decref(svc);
  json_decref(b.vars);
  json_decref(b.order);
  return rc;
}
