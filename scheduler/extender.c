/*
 * extender.c - extenders[] of the KubeSchedulerConfiguration: decoding and
 * validation, the JSON the scheduler sends (ExtenderArgs,
 * ExtenderBindingArgs), merging what extenders answer (filter results,
 * host priorities) and the calls themselves.  See extender.h.
 *
 * Decoding is strict, as upstream's config loader is: unknown fields and
 * wrong JSON types are errors worded like Go's decoder; then the rules of
 * upstream's validateExtenders (a positive weight for prioritizers, valid
 * and unique managed extended resource names, at most one binder).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extender.h"
#include "framework.h"
#include "kube/base64.h"
#include "kube/json.h"
#include "kube/log.h"
#include "kube/names.h"
#include "kube/restclient.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

/* ---- decoding ---------------------------------------------------------- */

/* Go's "json: cannot unmarshal X into Go struct field T.path of type Y". */
static int type_error(const json_t *v, const char *gotype, const char *field, const char *want, char *err,
                      size_t errlen)
{
  snprintf(err, errlen, "json: cannot unmarshal %s into Go struct field %s.%s of type %s", kj_kind_name(v), gotype, field,
           want);
  return -EINVAL;
}

static int unknown_fields(const json_t *obj, const char *const *known, const char *path, char *err, size_t errlen)
{
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *)obj, k, v) {
    const char *const *p = known;
    while (*p && strcmp(*p, k) != 0) p++;
    if (!*p) {
      snprintf(err, errlen, "strict decoding error: unknown field \"%s.%s\"", path, k);
      return -EINVAL;
    }
  }
  return 0;
}

/* An optional string field; null counts as absent. */
static int get_string(const json_t *obj, const char *name, const char *gotype, const char *gopath, char **out,
                      char *err, size_t errlen)
{
  const json_t *v = json_object_get(obj, name);
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) {
    char f[128];
    snprintf(f, sizeof f, "%s.%s", gopath, name);
    return type_error(v, gotype, f, "string", err, errlen);
  }
  if (json_string_length(v) > 0) *out = xstrdup(json_string_value(v));
  return 0;
}

static int get_bool(const json_t *obj, const char *name, const char *gotype, const char *gopath, bool *out, char *err,
                    size_t errlen)
{
  const json_t *v = json_object_get(obj, name);
  *out = false;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_boolean(v)) {
    char f[128];
    snprintf(f, sizeof f, "%s.%s", gopath, name);
    return type_error(v, gotype, f, "bool", err, errlen);
  }
  *out = json_is_true(v);
  return 0;
}

/* []byte fields travel base64-encoded; *Data wins over *File, as
 * client-go's TLS config does. */
static int tls_blob(const json_t *tls, const char *data_field, const char *file_field, char **out, size_t *outlen,
                    char *err, size_t errlen)
{
  const json_t *d = json_object_get(tls, data_field);
  if (d && !json_is_null(d)) {
    if (!json_is_string(d)) {
      char f[96];
      snprintf(f, sizeof f, "extenders.tlsConfig.%s", data_field);
      return type_error(d, "Extender", f, "[]uint8", err, errlen);
    }
    unsigned char *buf = NULL;
    size_t bad = 0;
    if (kb64_decode(json_string_value(d), json_string_length(d), KB64_STD, &buf, outlen, &bad) < 0) {
      snprintf(err, errlen, "illegal base64 data at input byte %zu", bad);
      return -EINVAL;
    }
    if (*outlen > 0) *out = (char *)buf;
    else free(buf);
    return 0;
  }
  const char *path = json_string_value(json_object_get(tls, file_field));
  if (!path || !*path) return 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "open %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  char chunk[4096];
  size_t n;
  while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
  fclose(f);
  if (m) fclose(m);
  *out = buf;
  *outlen = len;
  return buf ? 0 : -ENOMEM;
}

static int parse_tls(struct sched_extender *e, const json_t *tls, const char *path, char *err, size_t errlen)
{
  static const char *const known[] = {"insecure", "serverName", "certFile", "keyFile", "caFile",
                                      "certData", "keyData",    "caData",   NULL};
  if (!tls || json_is_null(tls)) return 0;
  if (!json_is_object(tls))
    return type_error(tls, "Extender", "extenders.tlsConfig", "v1.ExtenderTLSConfig", err, errlen);
  char p[64];
  snprintf(p, sizeof p, "%s.tlsConfig", path);
  if (unknown_fields(tls, known, p, err, errlen) < 0) return -EINVAL;
  if (get_bool(tls, "insecure", "Extender", "extenders.tlsConfig", &e->conn.insecure, err, errlen) < 0 ||
      get_string(tls, "serverName", "Extender", "extenders.tlsConfig", &e->conn.tls_server_name, err, errlen) < 0)
    return -EINVAL;
  if (tls_blob(tls, "caData", "caFile", &e->conn.ca_data, &e->conn.ca_len, err, errlen) < 0 ||
      tls_blob(tls, "certData", "certFile", &e->conn.cert_data, &e->conn.cert_len, err, errlen) < 0 ||
      tls_blob(tls, "keyData", "keyFile", &e->conn.key_data, &e->conn.key_len, err, errlen) < 0)
    return -EINVAL;
  return 0;
}

/* upstream v1helper.IsExtendedResourceName: a qualified name with a
 * domain outside kubernetes.io, not a quota "requests." name. */
static bool is_extended_resource_name(const char *name)
{
  const char *slash = strchr(name, '/');
  if (!slash) return false;
  size_t dl = (size_t)(slash - name);
  if ((dl == 13 && !strncmp(name, "kubernetes.io", 13)) || (dl > 14 && !strncmp(slash - 14, ".kubernetes.io", 14)))
    return false;
  if (!strncmp(name, "requests.", 9)) return false;
  char quota[320], msg[256];
  snprintf(quota, sizeof quota, "requests.%s", name);
  return names_is_qualified_name(quota, msg, sizeof msg);
}

static int parse_managed(struct sched_extender *e, const json_t *list, const char *path, json_t *seen, char *err,
                         size_t errlen)
{
  static const char *const known[] = {"name", "ignoredByScheduler", NULL};
  if (!list || json_is_null(list)) return 0;
  if (!json_is_array(list))
    return type_error(list, "Extender", "extenders.managedResources", "[]v1.ExtenderManagedResource", err, errlen);
  size_t j;
  json_t *r;
  json_array_foreach (list, j, r) {
    char p[96];
    snprintf(p, sizeof p, "%s.managedResources[%zu]", path, j);
    if (!json_is_object(r))
      return type_error(r, "Extender", "extenders.managedResources", "v1.ExtenderManagedResource", err, errlen);
    if (unknown_fields(r, known, p, err, errlen) < 0) return -EINVAL;
    char *name = NULL;
    bool ignored = false;
    if (get_string(r, "name", "ExtenderManagedResource", "extenders.managedResources", &name, err, errlen) < 0 ||
        get_bool(r, "ignoredByScheduler", "ExtenderManagedResource", "extenders.managedResources", &ignored, err,
                 errlen) < 0) {
      free(name);
      return -EINVAL;
    }
    char msg[256];
    const char *n = name ? name : "";
    int rc = 0;
    if (!names_is_qualified_name(n, msg, sizeof msg)) {
      snprintf(err, errlen, "%s.name: Invalid value: \"%s\": %s", p, n, msg);
      rc = -EINVAL;
    } else if (!is_extended_resource_name(n)) {
      snprintf(err, errlen, "%s.name: Invalid value: \"%s\": is an invalid extended resource name", p, n);
      rc = -EINVAL;
    } else if (json_object_get(seen, n)) {
      snprintf(err, errlen, "%s.name: Invalid value: \"%s\": duplicate extender managed resource name", p, n);
      rc = -EINVAL;
    } else {
      json_object_set_new(seen, n, json_true());
      json_object_set_new(e->managed, n, json_boolean(ignored));
    }
    free(name);
    if (rc < 0) return rc;
  }
  return 0;
}

static int parse_one(struct sched_extender *e, const json_t *spec, size_t i, json_t *seen, char *err, size_t errlen)
{
  static const char *const known[] = {
      "urlPrefix", "filterVerb",  "preemptVerb",      "prioritizeVerb",   "weight",    "bindVerb", "enableHTTPS",
      "tlsConfig", "httpTimeout", "nodeCacheCapable", "managedResources", "ignorable", NULL};
  char path[32];
  snprintf(path, sizeof path, "extenders[%zu]", i);
  if (!json_is_object(spec))
    return type_error(spec, "KubeSchedulerConfiguration", "extenders", "v1.Extender", err, errlen);
  if (unknown_fields(spec, known, path, err, errlen) < 0) return -EINVAL;
  rest_config_init(&e->conn);
  e->managed = json_object();
  const char *gp = "extenders";
  if (get_string(spec, "urlPrefix", "Extender", gp, &e->url_prefix, err, errlen) < 0 ||
      get_string(spec, "filterVerb", "Extender", gp, &e->filter_verb, err, errlen) < 0 ||
      get_string(spec, "preemptVerb", "Extender", gp, &e->preempt_verb, err, errlen) < 0 ||
      get_string(spec, "prioritizeVerb", "Extender", gp, &e->prioritize_verb, err, errlen) < 0 ||
      get_string(spec, "bindVerb", "Extender", gp, &e->bind_verb, err, errlen) < 0 ||
      get_bool(spec, "enableHTTPS", "Extender", gp, &e->enable_https, err, errlen) < 0 ||
      get_bool(spec, "nodeCacheCapable", "Extender", gp, &e->node_cache_capable, err, errlen) < 0 ||
      get_bool(spec, "ignorable", "Extender", gp, &e->ignorable, err, errlen) < 0)
    return -EINVAL;
  const json_t *w = json_object_get(spec, "weight");
  if (w && !json_is_null(w)) {
    if (!json_is_integer(w)) {
      if (json_is_real(w)) {
        snprintf(err, errlen,
                 "json: cannot unmarshal number %g into Go struct field Extender.extenders.weight of type int64",
                 json_real_value(w));
        return -EINVAL;
      }
      return type_error(w, "Extender", "extenders.weight", "int64", err, errlen);
    }
    e->weight = json_integer_value(w);
  }
  e->http_timeout_ms = SCHED_EXTENDER_DEFAULT_TIMEOUT_MS;
  const json_t *t = json_object_get(spec, "httpTimeout");
  if (t && !json_is_null(t)) {
    if (!json_is_string(t)) return type_error(t, "Extender", "extenders.httpTimeout", "string", err, errlen);
    int64_t ms = 0;
    if (ktime_parse_duration_ms_err(json_string_value(t), &ms, err, errlen) < 0) return -EINVAL;
    if (ms > 0) e->http_timeout_ms = ms; /* 0 means the default, as upstream */
  }
  if (parse_tls(e, json_object_get(spec, "tlsConfig"), path, err, errlen) < 0) return -EINVAL;
  if (parse_managed(e, json_object_get(spec, "managedResources"), path, seen, err, errlen) < 0) return -EINVAL;
  /* upstream validateExtenders */
  if (e->prioritize_verb && e->weight <= 0) {
    snprintf(err, errlen, "%s.weight: Invalid value: %lld: must have a positive weight applied to it", path,
             (long long)e->weight);
    return -EINVAL;
  }
  if (!e->url_prefix) {
    /* Upstream accepts it and fails every call; refusing it is clearer. */
    snprintf(err, errlen, "%s.urlPrefix: Required value", path);
    return -EINVAL;
  }
  /* Upstream: without a CA, HTTPS is not verified. */
  if (e->enable_https && !e->conn.ca_data) e->conn.insecure = true;
  e->conn.server = xstrdup(e->url_prefix);
  e->conn.qps = 0; /* no client-side rate limit: an extender is not the API server */
  e->conn.max_tries = 1;
  e->conn.timeout_ms = e->http_timeout_ms;
  e->conn.user_agent = rest_default_user_agent("kube-scheduler");
  return 0;
}

int sched_extenders_parse(const json_t *list, struct sched_extender **out, size_t *n, char *err, size_t errlen)
{
  *out = NULL;
  *n = 0;
  if (!list || json_is_null(list)) return 0;
  if (!json_is_array(list))
    return type_error(list, "KubeSchedulerConfiguration", "extenders", "[]v1.Extender", err, errlen);
  size_t cnt = json_array_size(list);
  if (cnt == 0) return 0;
  struct sched_extender *v = xcalloc(cnt, sizeof *v);
  json_t *seen = json_object();
  if (!v || !seen) {
    free(v);
    json_decref(seen);
    return -ENOMEM;
  }
  int binders = 0, rc = 0;
  for (size_t i = 0; i < cnt && rc == 0; i++) {
    rc = parse_one(&v[i], json_array_get(list, i), i, seen, err, errlen);
    if (rc == 0 && v[i].bind_verb) binders++;
  }
  json_decref(seen);
  if (rc == 0 && binders > 1) {
    snprintf(err, errlen,
             "extenders: Invalid value: \"found %d extenders implementing bind\": only one extender can implement bind",
             binders);
    rc = -EINVAL;
  }
  if (rc < 0) {
    sched_extenders_free(v, cnt);
    return rc;
  }
  *out = v;
  *n = cnt;
  return 0;
}

void sched_extenders_free(struct sched_extender *e, size_t n)
{
  for (size_t i = 0; e && i < n; i++) {
    if (e[i].client) rest_client_free(e[i].client);
    free(e[i].url_prefix);
    free(e[i].filter_verb);
    free(e[i].prioritize_verb);
    free(e[i].bind_verb);
    free(e[i].preempt_verb);
    json_decref(e[i].managed);
    rest_config_free(&e[i].conn);
  }
  free(e);
}

int sched_extender_connect(struct sched_extender *e, struct event_base *base)
{
  if (e->client) return 0;
  e->client = rest_client_new(base, &e->conn);
  return e->client ? 0 : -ENOMEM;
}

/* ---- what is sent ------------------------------------------------------ */

static bool containers_use(const json_t *containers, const json_t *managed)
{
  size_t i;
  json_t *c;
  json_array_foreach (containers, i, c) {
    const json_t *res = json_object_get(c, "resources");
    const char *lists[] = {"requests", "limits"};
    for (int l = 0; l < 2; l++) {
      const char *k;
      json_t *v;
      json_object_foreach (json_object_get(res, lists[l]), k, v)
        if (json_object_get(managed, k)) return true;
    }
  }
  return false;
}

bool sched_extender_interested(const struct sched_extender *e, const json_t *pod)
{
  if (json_object_size(e->managed) == 0) return true;
  const json_t *spec = json_object_get(pod, "spec");
  return containers_use(json_object_get(spec, "containers"), e->managed) ||
         containers_use(json_object_get(spec, "initContainers"), e->managed);
}

json_t *sched_extender_args(const struct sched_extender *e, const json_t *pod, const json_t *names,
                            const struct sched_snapshot *snap)
{
  json_t *args = json_pack("{s:O}", "pod", (json_t *)pod);
  if (!args) return NULL;
  json_t *list = json_array();
  size_t i;
  json_t *n;
  json_array_foreach (names, i, n) {
    const struct sched_node_info *ni = sched_snapshot_node(snap, json_string_value(n));
    if (!ni) continue;
    json_array_append(list, e->node_cache_capable ? n : ni->node);
  }
  if (e->node_cache_capable) json_object_set_new(args, "nodenames", list);
  else json_object_set_new(args, "nodes", json_pack("{s:{},s:o}", "metadata", "items", list));
  return args;
}

json_t *sched_extender_binding_args(const json_t *pod, const char *node)
{
  const json_t *md = json_object_get(pod, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  const char *uid = json_string_value(json_object_get(md, "uid"));
  return json_pack("{s:s,s:s,s:s,s:s}", "podName", name ? name : "", "podNamespace", ns ? ns : "", "podUID",
                   uid ? uid : "", "node", node);
}

/* ---- what comes back --------------------------------------------------- */

static void set_failed(json_t *failed, const char *node, const json_t *msg, int code)
{
  json_object_set_new(
      failed, node,
      json_pack("{s:i,s:[s]}", "code", code, "reasons", json_is_string(msg) ? json_string_value(msg) : ""));
}

int sched_extender_apply_filter(const struct sched_extender *e, const json_t *result, json_t *feasible, json_t *failed,
                                char *msg, size_t msglen)
{
  const char *error = json_string_value(json_object_get(result, "error"));
  if (error && *error) {
    snprintf(msg, msglen, "%s", error);
    return -EINVAL;
  }
  json_t *input = json_object();
  size_t i;
  json_t *v;
  json_array_foreach (feasible, i, v) json_object_set(input, json_string_value(v), json_true());
  json_t *kept = json_array();
  const json_t *names = json_object_get(result, "nodenames");
  const json_t *nodes = json_object_get(json_object_get(result, "nodes"), "items");
  int rc = 0;
  if (e->node_cache_capable && json_is_array(names)) {
    json_array_foreach (names, i, v) {
      const char *n = json_string_value(v);
      if (!n || !json_object_get(input, n)) {
        snprintf(msg, msglen, "extender \"%s\" claims a filtered node \"%s\" which is not found in the input node list",
                 sched_extender_name(e), n ? n : "");
        rc = -EINVAL;
        break;
      }
      json_array_append(kept, v);
    }
  } else {
    /* Upstream takes the returned Node objects as they are; a node the
     * scheduler does not know cannot be placed on, so it is refused. */
    json_array_foreach (nodes, i, v) {
      const char *n = json_string_value(json_object_get(json_object_get(v, "metadata"), "name"));
      if (!n || !json_object_get(input, n)) {
        snprintf(msg, msglen, "extender \"%s\" claims a filtered node \"%s\" which is not found in the input node list",
                 sched_extender_name(e), n ? n : "");
        rc = -EINVAL;
        break;
      }
      json_array_append_new(kept, json_string(n));
    }
  }
  json_decref(input);
  if (rc < 0) {
    json_decref(kept);
    return rc;
  }
  const json_t *unres = json_object_get(result, "failedAndUnresolvableNodes");
  const char *k;
  json_object_foreach ((json_t *)unres, k, v) set_failed(failed, k, v, SCHED_UNRESOLVABLE);
  json_object_foreach (json_object_get(result, "failedNodes"), k, v)
    if (!json_object_get(unres, k)) set_failed(failed, k, v, SCHED_UNSCHEDULABLE);
  json_array_clear(feasible);
  json_array_extend(feasible, kept);
  json_decref(kept);
  return 0;
}

void sched_extender_add_priorities(const struct sched_extender *e, const json_t *list, json_t *scores)
{
  size_t i;
  json_t *hp;
  json_array_foreach (list, i, hp) {
    const char *host = json_string_value(json_object_get(hp, "host"));
    if (!host) continue;
    int64_t score = json_integer_value(json_object_get(hp, "score"));
    int64_t add = score * e->weight * (SCHED_MAX_NODE_SCORE / SCHED_MAX_EXTENDER_PRIORITY);
    json_object_set_new(scores, host, json_integer(json_integer_value(json_object_get(scores, host)) + add));
  }
}

json_t *sched_extender_preemption_args(const struct sched_extender *e, const json_t *pod, const json_t *candidates)
{
  if (!e->node_cache_capable)
    return json_pack("{s:O,s:O}", "pod", (json_t *)pod, "nodeNameToVictims", (json_t *)candidates);
  json_t *meta = json_object();
  const char *node;
  json_t *v;
  json_object_foreach ((json_t *)candidates, node, v) {
    json_t *pods = json_array();
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(v, "pods"), i, p) {
      const char *uid = json_string_value(json_object_get(json_object_get(p, "metadata"), "uid"));
      json_array_append_new(pods, json_pack("{s:s}", "uid", uid ? uid : ""));
    }
    json_object_set_new(
        meta, node, json_pack("{s:o,s:O}", "pods", pods, "numPDBViolations", json_object_get(v, "numPDBViolations")));
  }
  return json_pack("{s:O,s:o}", "pod", (json_t *)pod, "nodeNameToMetaVictims", meta);
}

static const json_t *pod_by_uid(const struct sched_node_info *ni, const char *uid)
{
  for (size_t i = 0; uid && i < ni->npods; i++) {
    const char *u = json_string_value(json_object_get(json_object_get(ni->pods[i].pod, "metadata"), "uid"));
    if (u && strcmp(u, uid) == 0) return ni->pods[i].pod;
  }
  return NULL;
}

int sched_extender_apply_preemption(const struct sched_extender *e, const json_t *result,
                                    const struct sched_snapshot *snap, json_t **candidates, char *msg, size_t msglen)
{
  json_t *out = json_object();
  const char *node;
  json_t *mv;
  json_object_foreach (json_object_get(result, "nodeNameToMetaVictims"), node, mv) {
    const struct sched_node_info *ni = sched_snapshot_node(snap, node);
    if (!ni) {
      snprintf(msg, msglen, "nodeinfo not found for node name \"%s\"", node);
      goto fail;
    }
    json_t *pods = json_array();
    size_t i;
    json_t *mp;
    json_array_foreach (json_object_get(mv, "pods"), i, mp) {
      const char *uid = json_string_value(json_object_get(mp, "uid"));
      const json_t *pod = pod_by_uid(ni, uid);
      if (!pod) {
        snprintf(msg, msglen,
                 "extender: %s claims to preempt pod (UID: %s) on node: %s, but the pod is not found on that node",
                 sched_extender_name(e), uid ? uid : "", node);
        json_decref(pods);
        goto fail;
      }
      json_array_append(pods, (json_t *)pod);
    }
    if (json_array_size(pods) == 0) {
      json_decref(pods);
      if (e->ignorable) {
        KLOG_I("Ignored node for which the extender didn't report victims node=%s extender=%s", node,
               sched_extender_name(e));
        continue;
      }
      snprintf(msg, msglen, "expected at least one victim pod on node \"%s\"", node);
      goto fail;
    }
    json_object_set_new(out, node,
                        json_pack("{s:o,s:I}", "pods", pods, "numPDBViolations",
                                  (json_int_t)json_integer_value(json_object_get(mv, "numPDBViolations"))));
  }
  json_decref(*candidates);
  *candidates = out;
  return 0;
fail:
  json_decref(out);
  return -EINVAL;
}

/* ---- calls ------------------------------------------------------------- */

static char *verb_url(const struct sched_extender *e, const char *verb)
{
  size_t n = strlen(e->url_prefix);
  while (n > 0 && e->url_prefix[n - 1] == '/') n--;
  char *url = NULL;
  if (asprintf(&url, "%.*s/%s", (int)n, e->url_prefix, verb) < 0) return NULL;
  return url;
}

struct rest_request *sched_extender_post(struct sched_extender *e, const char *verb, const json_t *args,
                                         rest_done_fn done, void *arg)
{
  if (!e->client) return NULL;
  char *path = NULL;
  if (asprintf(&path, "/%s", verb) < 0) return NULL;
  struct rest_request *r = rest_request_ct(e->client, "POST", path, "application/json", args, done, arg);
  free(path);
  return r;
}

int sched_extender_reply(const struct sched_extender *e, const char *verb, int http_code, const json_t *body,
                         const struct rest_status *err, char *msg, size_t msglen)
{
  char *url = verb_url(e, verb);
  int rc = -EIO;
  if (http_code == 0) {
    snprintf(msg, msglen, "Post \"%s\": %s", url ? url : verb, err && err->message ? err->message : "no answer");
  } else if (http_code != 200) {
    snprintf(msg, msglen, "failed %s with extender at URL %s, code %d", verb, url ? url : verb, http_code);
  } else if (!json_is_object(body) && !json_is_array(body)) {
    snprintf(msg, msglen, "failed %s with extender at URL %s: the answer is not JSON", verb, url ? url : verb);
  } else {
    rc = 0;
  }
  free(url);
  return rc;
}
