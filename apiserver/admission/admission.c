/*
 * admission.c - the admission chain and the helpers its plugins share.
 *
 * The chain is a fixed table in upstream's default plugin order: the
 * mutating plugins run first so that the validating ones see the final
 * object (LimitRanger's defaults before ResourceQuota counts requests).
 * The first plugin that refuses ends the request with its Status.
 * --enable-admission-plugins / --disable-admission-plugins turn plugins
 * on and off by upstream's names (admission_configure); the order stays
 * upstream's whatever the order of the flags.
 */
#define _GNU_SOURCE
#include "admission/admission.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kube/json.h>
#include <kube/log.h>
#include <kube/status.h>

#include "apiserver.h"
#include "registry/registry.h"
#include "storage/storage.h"

/* Upstream's plugin names, each with its index in the enabled mask. */
enum { P_NAMESPACE_LIFECYCLE, P_LIMIT_RANGER, P_SERVICE_ACCOUNT, P_DEFAULT_TOLERATION, P_PRIORITY, P_PVC_RESIZE,
       P_RESOURCE_QUOTA, P_NODE_RESTRICTION, P_MUTATING_WEBHOOK, P_VALIDATING_WEBHOOK, P_COUNT };
static const char *const PLUGIN_NAMES[P_COUNT] = {
    "NamespaceLifecycle", "LimitRanger", "ServiceAccount",          "DefaultTolerationSeconds",
    "Priority",           "PersistentVolumeClaimResize", "ResourceQuota",
    "NodeRestriction",    "MutatingAdmissionWebhook",    "ValidatingAdmissionWebhook",
};
/* Upstream plugins this server does not have: accepted in the flags with a
 * warning, so a kubeadm-style command line still starts. */
static const char *const ABSENT[] = {
    "TaintNodesByCondition", "PodSecurity", "DefaultStorageClass", "StorageObjectInUseProtection", "RuntimeClass",
    "CertificateApproval", "CertificateSigning", "ClusterTrustBundleAttest", "CertificateSubjectRestriction",
    "DefaultIngressClass", "ValidatingAdmissionPolicy",
    "MutatingAdmissionPolicy", "AlwaysPullImages", "EventRateLimit", "ExtendedResourceToleration",
    "ImagePolicyWebhook", "LimitPodHardAntiAffinityTopology", "NamespaceAutoProvision", "NamespaceExists",
    "OwnerReferencesPermissionEnforcement", "PodNodeSelector", "PodTolerationRestriction", "PodTopologyLabels",
    "AlwaysAdmit", "AlwaysDeny", "DenyServiceExternalIPs", NULL};

struct plugin {
  int id;
  admission_fn fn;
};

static const struct plugin MUTATING[] = {
    {P_LIMIT_RANGER, admission_limit_ranger_mutate},
    {P_SERVICE_ACCOUNT, admission_service_account},
    {P_DEFAULT_TOLERATION, admission_default_toleration_seconds},
    {P_PRIORITY, admission_priority},
};

static const struct plugin VALIDATING[] = {
    {P_LIMIT_RANGER, admission_limit_ranger_validate},
    {P_PVC_RESIZE, admission_pvc_resize},
    {P_RESOURCE_QUOTA, admission_resource_quota},
};

static bool enabled(const struct apiserver *srv, int id) { return !(srv->admission_disabled & (1u << id)); }

static int plugin_id(const char *name, size_t len)
{
  for (int i = 0; i < P_COUNT; i++)
    if (strlen(PLUGIN_NAMES[i]) == len && !strncmp(PLUGIN_NAMES[i], name, len)) return i;
  for (int i = 0; ABSENT[i]; i++)
    if (strlen(ABSENT[i]) == len && !strncmp(ABSENT[i], name, len)) return -1;
  return -2;
}

/* Applies one flag's list: on (enable) or off. */
static int apply_list(struct apiserver *srv, const char *flag, const char *list, bool on, unsigned *seen, char *err,
                      size_t errlen)
{
  for (const char *p = list ? list : ""; *p;) {
    size_t l = strcspn(p, ",");
    int id = l ? plugin_id(p, l) : -3;
    if (id == -2) {
      snprintf(err, errlen, "--%s: admission plugin \"%.*s\" is unknown", flag, (int)l, p);
      return -1;
    }
    if (id == -1) KLOG_W("--%s: admission plugin %.*s is not built into this API server; ignored", flag, (int)l, p);
    if (id >= 0) {
      if (*seen & (1u << id)) {
        snprintf(err, errlen, "%.*s in --enable-admission-plugins and --disable-admission-plugins at once", (int)l, p);
        return -1;
      }
      *seen |= 1u << id;
      if (on) srv->admission_disabled &= ~(1u << id);
      else srv->admission_disabled |= 1u << id;
    }
    p += l;
    if (*p == ',') p++;
  }
  return 0;
}

int admission_configure(struct apiserver *srv, const char *enable, const char *disable, char *err, size_t errlen)
{
  unsigned seen = 0;
  srv->admission_disabled = 0; /* upstream's default set (and NodeRestriction): every plugin here */
  if (apply_list(srv, "enable-admission-plugins", enable, true, &seen, err, errlen) < 0) return -1;
  return apply_list(srv, "disable-admission-plugins", disable, false, &seen, err, errlen);
}

bool admission_namespace_lifecycle_enabled(const struct apiserver *srv)
{
  return !srv || enabled(srv, P_NAMESPACE_LIFECYCLE);
}

/* On unless disabled: kubeadm turns it on for every cluster it makes, and
 * a node's credential must not reach beyond its node here either. */
bool admission_node_restriction_enabled(const struct apiserver *srv) { return !srv || enabled(srv, P_NODE_RESTRICTION); }

bool admission_webhook_enabled(const struct apiserver *srv, bool mutating)
{
  return !srv || enabled(srv, mutating ? P_MUTATING_WEBHOOK : P_VALIDATING_WEBHOOK);
}

bool adm_main_resource(const struct reg_request *rq) { return !rq->subresource || !*rq->subresource; }

json_t *admission_run(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old)
{
  json_t *nst = admission_node_restriction(rq, res, obj, old);
  if (nst) return nst;
  if (!adm_main_resource(rq) || !rq->srv || !rq->srv->storage) return NULL;
  for (size_t i = 0; i < sizeof(MUTATING) / sizeof(MUTATING[0]); i++) {
    json_t *st = enabled(rq->srv, MUTATING[i].id) ? MUTATING[i].fn(rq, res, obj, old) : NULL;
    if (st) return st;
  }
  for (size_t i = 0; i < sizeof(VALIDATING) / sizeof(VALIDATING[0]); i++) {
    json_t *st = enabled(rq->srv, VALIDATING[i].id) ? VALIDATING[i].fn(rq, res, obj, old) : NULL;
    if (st) return st;
  }
  return NULL;
}

json_t *adm_forbidden(const struct resource *res, const char *name, const char *fmt, ...)
{
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  char gr[300];
  if (*res->group) snprintf(gr, sizeof(gr), "%s.%s", res->plural, res->group);
  else snprintf(gr, sizeof(gr), "%s", res->plural);
  json_t *st = kstatus_forbidden("%s \"%s\" is forbidden: %s", gr, name ? name : "", msg);
  kstatus_set_details(st, name ? name : "", res->group, res->plural);
  return st;
}

json_t *adm_get(struct apiserver *srv, const char *key)
{
  struct kv *kv = storage_get(srv->storage, key);
  return kv ? kj_loadb(kv->bytes, kv->len, false, NULL, 0) : NULL;
}

static int list_visit(void *arg, struct kv *kv)
{
  json_t *o = kj_loadb(kv->bytes, kv->len, false, NULL, 0);
  if (o) json_array_append_new(arg, o);
  return 0;
}

static json_t *list_prefix(struct apiserver *srv, const char *base, const char *ns)
{
  char prefix[600];
  if (ns && *ns) snprintf(prefix, sizeof(prefix), "%s/%s/", base, ns);
  else snprintf(prefix, sizeof(prefix), "%s/", base);
  json_t *out = json_array();
  storage_list(srv->storage, prefix, 0, NULL, list_visit, out);
  return out;
}

json_t *adm_list(struct apiserver *srv, const char *plural, const char *ns)
{
  char base[300];
  snprintf(base, sizeof(base), "/registry/%s", plural);
  return list_prefix(srv, base, ns);
}

json_t *adm_list_res(struct apiserver *srv, const struct resource *res, const char *ns)
{
  return list_prefix(srv, res->storage_prefix, ns);
}
