/*
 * podspec.c - pod spec defaulting, validation and QoS, shared by Pods and
 * by the pod templates of ReplicaSets and Deployments, as upstream shares
 * SetDefaults_PodSpec and ValidatePodSpec across those kinds.
 *
 * Defaulting fills only absent fields, so it is idempotent and safe to run
 * on every write.  Validation covers the common rules with upstream field
 * paths and messages; it never changes the object.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/names.h>
#include <kube/quantity.h>

#include "registry/reg_internal.h"

/* ---- defaulting ---- */

/* Upstream: Always when the tag is "latest" or absent (and no digest). */
static const char *default_pull_policy(const char *image)
{
  if (!image) return "IfNotPresent";
  if (strchr(image, '@')) return "IfNotPresent";
  const char *slash = strrchr(image, '/');
  const char *colon = strrchr(slash ? slash : image, ':');
  if (!colon || !strcmp(colon + 1, "latest")) return "Always";
  return "IfNotPresent";
}

static void probe_defaults(json_t *probe)
{
  if (!json_is_object(probe)) return;
  kj_default(probe, "timeoutSeconds", json_integer(1));
  kj_default(probe, "periodSeconds", json_integer(10));
  kj_default(probe, "successThreshold", json_integer(1));
  kj_default(probe, "failureThreshold", json_integer(3));
  json_t *http = json_object_get(probe, "httpGet");
  if (json_is_object(http)) {
    kj_default(http, "path", json_string("/"));
    kj_default(http, "scheme", json_string("HTTP"));
  }
}

static void container_defaults(json_t *c, bool host_network)
{
  if (!json_is_object(c)) return;
  kj_default(c, "terminationMessagePath", json_string("/dev/termination-log"));
  kj_default(c, "terminationMessagePolicy", json_string("File"));
  kj_default(c, "imagePullPolicy", json_string(default_pull_policy(kj_get_str(c, "image"))));
  size_t i;
  json_t *p;
  json_array_foreach (json_object_get(c, "ports"), i, p) {
    if (!json_is_object(p)) continue;
    kj_default(p, "protocol", json_string("TCP"));
    if (host_network && json_object_get(p, "containerPort"))
      kj_default(p, "hostPort", kj_deep_copy(json_object_get(p, "containerPort")));
  }
  json_t *e;
  json_array_foreach (json_object_get(c, "env"), i, e) {
    json_t *fr = kj_get(e, "valueFrom.fieldRef");
    if (json_is_object(fr)) kj_default(fr, "apiVersion", json_string("v1"));
  }
  probe_defaults(json_object_get(c, "livenessProbe"));
  probe_defaults(json_object_get(c, "readinessProbe"));
  probe_defaults(json_object_get(c, "startupProbe"));
}

static const char *const volume_sources[] = {"hostPath",
                                             "emptyDir",
                                             "gcePersistentDisk",
                                             "awsElasticBlockStore",
                                             "gitRepo",
                                             "secret",
                                             "nfs",
                                             "iscsi",
                                             "glusterfs",
                                             "persistentVolumeClaim",
                                             "rbd",
                                             "flexVolume",
                                             "cinder",
                                             "cephfs",
                                             "flocker",
                                             "downwardAPI",
                                             "fc",
                                             "azureFile",
                                             "configMap",
                                             "vsphereVolume",
                                             "quobyte",
                                             "azureDisk",
                                             "photonPersistentDisk",
                                             "projected",
                                             "portworxVolume",
                                             "scaleIO",
                                             "storageos",
                                             "csi",
                                             "ephemeral",
                                             "image",
                                             NULL};

static void volume_defaults(json_t *v)
{
  if (!json_is_object(v)) return;
  bool has = false;
  for (size_t i = 0; volume_sources[i]; i++)
    if (json_object_get(v, volume_sources[i])) has = true;
  if (!has) json_object_set_new(v, "emptyDir", json_object());
  static const char *const moded[] = {"configMap", "secret", "projected", "downwardAPI", NULL};
  for (size_t i = 0; moded[i]; i++) {
    json_t *s = json_object_get(v, moded[i]);
    if (json_is_object(s)) kj_default(s, "defaultMode", json_integer(420));
  }
  json_t *hp = json_object_get(v, "hostPath");
  if (json_is_object(hp)) kj_default(hp, "type", json_string(""));
  json_t *fr;
  size_t i;
  json_array_foreach (kj_get(v, "downwardAPI.items"), i, fr) {
    json_t *r = json_object_get(fr, "fieldRef");
    if (json_is_object(r)) kj_default(r, "apiVersion", json_string("v1"));
  }
}

void reg_pod_spec_defaults(json_t *spec)
{
  if (!json_is_object(spec)) return;
  kj_default(spec, "dnsPolicy", json_string("ClusterFirst"));
  kj_default(spec, "restartPolicy", json_string("Always"));
  kj_default(spec, "terminationGracePeriodSeconds", json_integer(30));
  kj_default(spec, "securityContext", json_object());
  kj_default(spec, "schedulerName", json_string("default-scheduler"));
  /* v1's deprecated serviceAccount mirrors serviceAccountName both ways,
   * as upstream's conversion does. */
  const char *san = kj_get_str(spec, "serviceAccountName"), *dsa = kj_get_str(spec, "serviceAccount");
  if (san && *san && (!dsa || strcmp(dsa, san))) json_object_set_new(spec, "serviceAccount", json_string(san));
  else if (dsa && *dsa && (!san || !*san)) json_object_set_new(spec, "serviceAccountName", json_string(dsa));
  bool hostnet = kj_get_bool(spec, "hostNetwork", false);
  size_t i;
  json_t *c;
  json_array_foreach (json_object_get(spec, "containers"), i, c) container_defaults(c, hostnet);
  json_array_foreach (json_object_get(spec, "initContainers"), i, c) container_defaults(c, hostnet);
  json_array_foreach (json_object_get(spec, "volumes"), i, c) volume_defaults(c);
}

void reg_pod_template_defaults(json_t *tmpl)
{
  if (!json_is_object(tmpl)) return;
  reg_pod_spec_defaults(kj_obj(tmpl, "spec"));
}

/* ---- validation ---- */

static const char *const pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};
static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};
static const char *const restart_policies[] = {"Always", "OnFailure", "Never", NULL};
static const char *const dns_policies[] = {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None", NULL};
static const char *const msg_policies[] = {"FallbackToLogsOnError", "File", NULL};

static void check_port_num(json_t *causes, const char *field, const json_t *v, bool required)
{
  int64_t n = json_integer_value(v);
  if (!v || n == 0) {
    if (required) reg_cause_add(causes, REG_REQUIRED, field, "Required value");
    return;
  }
  if (n < 1 || n > 65535) reg_cause_invalid(causes, field, v, "must be between 1 and 65535, inclusive");
}

static bool name_in(const json_t *names, const char *n) { return n && json_object_get(names, n) != NULL; }

static void validate_resources(const json_t *res, const char *path, json_t *causes)
{
  json_t *req = json_object_get(res, "requests"), *lim = json_object_get(res, "limits");
  const char *k;
  json_t *v;
  char f[256];
  snprintf(f, sizeof(f), "%s.limits", path);
  reg_validate_resource_list(lim, f, true, causes);
  snprintf(f, sizeof(f), "%s.requests", path);
  reg_validate_resource_list(req, f, true, causes);
  json_object_foreach (req, k, v) {
    struct quantity rq, lq;
    const char *rs = json_string_value(v);
    const char *ls = json_string_value(json_object_get(lim, k));
    if (!rs || !ls || quantity_parse(rs, &rq) || quantity_parse(ls, &lq)) continue;
    if (quantity_cmp(&rq, &lq) > 0) {
      char d[256];
      snprintf(f, sizeof(f), "%s.requests", path);
      snprintf(d, sizeof(d), "must be less than or equal to %s limit of %s", k, ls);
      reg_cause_invalid(causes, f, v, d);
    }
  }
}

static void validate_container(const json_t *c, const char *path, bool is_init, const json_t *vol_names,
                               json_t *all_names, json_t *causes)
{
  char f[256], msg[512];
  const char *name = kj_get_str(c, "name");
  snprintf(f, sizeof(f), "%s.name", path);
  if (!name || !*name) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
  else if (!names_is_dns1123_label(name, msg, sizeof(msg))) reg_cause_invalid_str(causes, f, name, msg);
  else if (json_object_get(all_names, name)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", name);
  else json_object_set_new(all_names, name, json_true());

  const char *image = kj_get_str(c, "image");
  snprintf(f, sizeof(f), "%s.image", path);
  if (!image || !*image) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
  snprintf(f, sizeof(f), "%s.imagePullPolicy", path);
  reg_check_enum(causes, f, kj_get_str(c, "imagePullPolicy"), pull_policies);
  snprintf(f, sizeof(f), "%s.terminationMessagePolicy", path);
  reg_check_enum(causes, f, kj_get_str(c, "terminationMessagePolicy"), msg_policies);

  size_t i;
  json_t *p;
  json_t *port_names = json_object();
  json_array_foreach (json_object_get(c, "ports"), i, p) {
    char pp[200];
    snprintf(pp, sizeof(pp), "%s.ports[%zu]", path, i);
    snprintf(f, sizeof(f), "%s.containerPort", pp);
    check_port_num(causes, f, json_object_get(p, "containerPort"), true);
    snprintf(f, sizeof(f), "%s.hostPort", pp);
    check_port_num(causes, f, json_object_get(p, "hostPort"), false);
    snprintf(f, sizeof(f), "%s.protocol", pp);
    const char *proto = kj_get_str(p, "protocol");
    if (proto) reg_check_enum(causes, f, proto, protocols);
    const char *pn = kj_get_str(p, "name");
    if (pn && *pn) {
      snprintf(f, sizeof(f), "%s.name", pp);
      if (json_object_get(port_names, pn)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", pn);
      json_object_set_new(port_names, pn, json_true());
    }
  }
  json_decref(port_names);

  json_t *e;
  json_array_foreach (json_object_get(c, "env"), i, e) {
    const char *en = kj_get_str(e, "name");
    if (!en || !*en) {
      snprintf(f, sizeof(f), "%s.env[%zu].name", path, i);
      reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    }
  }
  json_t *m;
  json_array_foreach (json_object_get(c, "volumeMounts"), i, m) {
    const char *mn = kj_get_str(m, "name");
    snprintf(f, sizeof(f), "%s.volumeMounts[%zu].name", path, i);
    if (!mn || !*mn) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    else if (!name_in(vol_names, mn)) reg_cause_add(causes, REG_NOT_FOUND, f, "Not found: \"%s\"", mn);
    const char *mp = kj_get_str(m, "mountPath");
    if (!mp || !*mp) {
      snprintf(f, sizeof(f), "%s.volumeMounts[%zu].mountPath", path, i);
      reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    }
  }
  snprintf(f, sizeof(f), "%s.resources", path);
  validate_resources(kj_get(c, "resources"), f, causes);
  /* restartPolicy on a container: only "Always", only on init containers */
  const char *rp = kj_get_str(c, "restartPolicy");
  if (rp) {
    snprintf(f, sizeof(f), "%s.restartPolicy", path);
    if (!is_init) reg_cause_add(causes, REG_FORBIDDEN, f, "Forbidden: may not be set for non-init containers");
    else {
      static const char *const always[] = {"Always", NULL};
      reg_check_enum(causes, f, rp, always);
    }
  }
}

static void validate_tolerations(const json_t *tols, const char *path, json_t *causes)
{
  static const char *const ops[] = {"Equal", "Exists", NULL};
  static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
  size_t i;
  json_t *t;
  char f[256], msg[512];
  json_array_foreach (tols, i, t) {
    const char *key = kj_get_str(t, "key"), *op = kj_get_str(t, "operator");
    const char *value = kj_get_str(t, "value"), *effect = kj_get_str(t, "effect");
    if (key && *key && !names_is_qualified_name(key, msg, sizeof(msg))) {
      snprintf(f, sizeof(f), "%s[%zu].key", path, i);
      reg_cause_invalid_str(causes, f, key, msg);
    }
    snprintf(f, sizeof(f), "%s[%zu].operator", path, i);
    if ((!key || !*key) && (!op || strcmp(op, "Exists")))
      reg_cause_invalid_str(
          causes, f, reg_str_or(op, ""),
          "operator must be Exists when `key` is empty, which means \"match all values and all keys\"");
    if (op && *op && strcmp(op, "Equal") && strcmp(op, "Exists")) reg_cause_not_supported(causes, f, op, ops);
    else if (op && !strcmp(op, "Exists") && value && *value)
      reg_cause_invalid_str(causes, f, value, "value must be empty when `operator` is 'Exists'");
    snprintf(f, sizeof(f), "%s[%zu].effect", path, i);
    if (effect && *effect) reg_check_enum(causes, f, effect, effects);
    if (kj_get(t, "tolerationSeconds") && (!effect || strcmp(effect, "NoExecute")))
      reg_cause_invalid_str(causes, f, reg_str_or(effect, ""),
                            "effect must be 'NoExecute' when `tolerationSeconds` is set");
  }
}

void reg_validate_pod_spec(const json_t *spec, const char *path, json_t *causes)
{
  char f[256], msg[512];
  json_t *vol_names = json_object();
  size_t i;
  json_t *v;
  json_array_foreach (json_object_get(spec, "volumes"), i, v) {
    const char *vn = kj_get_str(v, "name");
    snprintf(f, sizeof(f), "%s.volumes[%zu].name", path, i);
    if (!vn || !*vn) reg_cause_add(causes, REG_REQUIRED, f, "Required value");
    else if (!names_is_dns1123_label(vn, msg, sizeof(msg))) reg_cause_invalid_str(causes, f, vn, msg);
    else if (json_object_get(vol_names, vn)) reg_cause_add(causes, REG_DUPLICATE, f, "Duplicate value: \"%s\"", vn);
    else json_object_set_new(vol_names, vn, json_true());
  }

  json_t *all_names = json_object();
  json_t *containers = json_object_get(spec, "containers");
  if (!json_is_array(containers) || json_array_size(containers) == 0) {
    snprintf(f, sizeof(f), "%s.containers", path);
    reg_cause_add(causes, REG_REQUIRED, f, "Required value");
  }
  json_t *c;
  json_array_foreach (json_object_get(spec, "initContainers"), i, c) {
    snprintf(f, sizeof(f), "%s.initContainers[%zu]", path, i);
    validate_container(c, f, true, vol_names, all_names, causes);
  }
  json_array_foreach (containers, i, c) {
    snprintf(f, sizeof(f), "%s.containers[%zu]", path, i);
    validate_container(c, f, false, vol_names, all_names, causes);
  }
  json_decref(all_names);
  json_decref(vol_names);

  snprintf(f, sizeof(f), "%s.restartPolicy", path);
  reg_check_enum(causes, f, kj_get_str(spec, "restartPolicy"), restart_policies);
  snprintf(f, sizeof(f), "%s.dnsPolicy", path);
  reg_check_enum(causes, f, kj_get_str(spec, "dnsPolicy"), dns_policies);

  json_t *ads = json_object_get(spec, "activeDeadlineSeconds");
  if (ads && json_integer_value(ads) <= 0) {
    snprintf(f, sizeof(f), "%s.activeDeadlineSeconds", path);
    reg_cause_invalid(causes, f, ads, "must be between 1 and 2147483647, inclusive");
  }
  json_t *tgp = json_object_get(spec, "terminationGracePeriodSeconds");
  if (tgp && json_integer_value(tgp) < 0) {
    snprintf(f, sizeof(f), "%s.terminationGracePeriodSeconds", path);
    reg_cause_invalid(causes, f, tgp, "must be greater than or equal to 0");
  }
  const char *node = kj_get_str(spec, "nodeName");
  if (node && *node && !names_is_dns1123_subdomain(node, msg, sizeof(msg))) {
    snprintf(f, sizeof(f), "%s.nodeName", path);
    reg_cause_invalid_str(causes, f, node, msg);
  }
  const char *sa = kj_get_str(spec, "serviceAccountName");
  if (sa && *sa && !names_is_dns1123_subdomain(sa, msg, sizeof(msg))) {
    snprintf(f, sizeof(f), "%s.serviceAccountName", path);
    reg_cause_invalid_str(causes, f, sa, msg);
  }
  snprintf(f, sizeof(f), "%s.tolerations", path);
  validate_tolerations(json_object_get(spec, "tolerations"), f, causes);
  snprintf(f, sizeof(f), "%s.nodeSelector", path);
  reg_validate_labels(json_object_get(spec, "nodeSelector"), f, causes);
}

void reg_validate_pod_template(const json_t *tmpl, const char *path, json_t *causes)
{
  char f[256];
  if (!json_is_object(tmpl)) {
    reg_cause_add(causes, REG_REQUIRED, path, "Required value");
    return;
  }
  snprintf(f, sizeof(f), "%s.metadata.labels", path);
  reg_validate_labels(kj_get(tmpl, "metadata.labels"), f, causes);
  snprintf(f, sizeof(f), "%s.metadata.annotations", path);
  reg_validate_annotations(kj_get(tmpl, "metadata.annotations"), f, causes);
  snprintf(f, sizeof(f), "%s.spec", path);
  reg_validate_pod_spec(json_object_get(tmpl, "spec"), f, causes);
}

static char *join_field(const json_t *spec, const char *key)
{
  char *buf = NULL;
  size_t len = 0, i;
  FILE *f = open_memstream(&buf, &len);
  json_t *c;
  json_array_foreach (json_object_get(spec, "containers"), i, c)
    fprintf(f, "%s%s", i ? "," : "", reg_str_or(kj_get_str(c, key), ""));
  fclose(f);
  return buf;
}

char *reg_container_names(const json_t *spec) { return join_field(spec, "name"); }

char *reg_container_images(const json_t *spec) { return join_field(spec, "image"); }
