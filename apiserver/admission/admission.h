/*
 * admission.h - the built-in admission plugins of kube-apiserver.
 *
 * On create and update, after the kind's own admit hook and before
 * validation, the request path runs one chain: the mutating plugins first
 * (they may change the object), then the validating ones, in upstream's
 * default order:
 *   mutating:   LimitRanger (defaults), ServiceAccount,
 *               DefaultTolerationSeconds, Priority
 *   validating: LimitRanger (min/max/ratio), PersistentVolumeClaimResize,
 *               ResourceQuota
 * NodeRestriction runs first of the chain and, unlike the others, on
 * subresource writes too (a node's pods/status, nodes/status) and on
 * delete.
 * The admission webhooks (webhook.h) run after this chain, asynchronously,
 * from the request path: mutating webhooks, then validation, then
 * validating webhooks.
 * NamespaceLifecycle runs apart and first (admission_namespace_lifecycle),
 * before the kind's admit hook allocates anything (IPs, node ports), and
 * on delete (admission_delete) to keep the system namespaces.
 * Each plugin lives in its own file and reads what it needs (limit
 * ranges, quotas, priority classes, namespaces) from storage's committed
 * state, synchronously.  Plugins act only on the main resource: status and
 * other subresource writes pass through.
 */
#ifndef APISERVER_ADMISSION_H
#define APISERVER_ADMISSION_H

#include <stdbool.h>
#include <jansson.h>

struct reg_request;
struct resource;
struct apiserver;

/* Every plugin has this shape: NULL to admit, or a Status (new reference)
 * that fails the request.  old is NULL on create. */
typedef json_t *(*admission_fn)(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old);

/* --enable-admission-plugins / --disable-admission-plugins (upstream's
 * names, comma-separated) into srv->admission_disabled; 0, or -1 with a
 * message naming the flag and plugin.  Upstream plugins this server does
 * not have are ignored with a warning. */
int admission_configure(struct apiserver *srv, const char *enable, const char *disable, char *err, size_t errlen);
bool admission_namespace_lifecycle_enabled(const struct apiserver *srv);
bool admission_node_restriction_enabled(const struct apiserver *srv);
/* MutatingAdmissionWebhook (mutating) / ValidatingAdmissionWebhook: on
 * unless disabled (admission/webhook.c). */
bool admission_webhook_enabled(const struct apiserver *srv, bool mutating);

/* The chain (mutating then validating plugins); NULL or a Status. */
json_t *admission_run(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old);
/* NamespaceLifecycle on create/update: 404 for a missing namespace, 403 for
 * one being terminated.  NULL or a Status. */
json_t *admission_namespace_lifecycle(struct reg_request *rq, const struct resource *res, json_t *obj,
                                      const json_t *old);
/* Delete-time admission (NamespaceLifecycle's immortal namespaces). */
json_t *admission_delete(struct reg_request *rq, const struct resource *res, const char *name);

/* The plugins (one file each). */
json_t *admission_limit_ranger_mutate(struct reg_request *rq, const struct resource *res, json_t *obj,
                                      const json_t *old);
json_t *admission_limit_ranger_validate(struct reg_request *rq, const struct resource *res, json_t *obj,
                                        const json_t *old);
json_t *admission_service_account(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old);
json_t *admission_default_toleration_seconds(struct reg_request *rq, const struct resource *res, json_t *obj,
                                             const json_t *old);
json_t *admission_priority(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old);
json_t *admission_resource_quota(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old);
/* NodeRestriction (node_restriction.c): writes by a node's credential
 * (rq->auth) limited to its own Node, Lease, CSINode, mirror pods, its
 * pods' status and evictions, tokens bound to its pods and claims'
 * status; subresources included (also called by eviction.c, token.c). */
json_t *admission_node_restriction(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old);
json_t *admission_pvc_resize(struct reg_request *rq, const struct resource *res, json_t *obj, const json_t *old);

/* ---- helpers shared by the plugins (admission.c) ---- */

/* 403 Forbidden `RESOURCE "NAME" is forbidden: MESSAGE` with details, as
 * upstream's errors.NewForbidden.  New reference. */
json_t *adm_forbidden(const struct resource *res, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parsed stored object at key, or NULL.  New reference. */
json_t *adm_get(struct apiserver *srv, const char *key);
/* Parsed stored objects under "/registry/PLURAL/NS/" (NS NULL: cluster
 * scoped "/registry/PLURAL/"), in key order.  New reference (array). */
json_t *adm_list(struct apiserver *srv, const char *plural, const char *ns);
/* The same for any resource, under its own storage prefix (services live
 * under /registry/services/specs). */
json_t *adm_list_res(struct apiserver *srv, const struct resource *res, const char *ns);
/* True for a write the chain looks at: the main resource, not a dry
 * subresource write. */
bool adm_main_resource(const struct reg_request *rq);

#endif
