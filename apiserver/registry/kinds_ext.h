/*
 * kinds_ext.h - the per-kind strategies beyond the core set: apps
 * (StatefulSet, DaemonSet, ControllerRevision), batch (Job, CronJob),
 * core (ReplicationController, PodTemplate, PersistentVolume[Claim],
 * LimitRange, ResourceQuota), autoscaling/v2, networking, policy,
 * scheduling, storage and RBAC.  Each descriptor lives in its own file;
 * registry_ext_all() lists them for the registry table.
 */
#ifndef APISERVER_KINDS_EXT_H
#define APISERVER_KINDS_EXT_H

#include <stddef.h>

#include "registry/registry.h"

struct apiserver;

extern const struct resource reg_statefulsets, reg_daemonsets, reg_controllerrevisions, reg_jobs, reg_cronjobs,
    reg_replicationcontrollers, reg_podtemplates, reg_persistentvolumes, reg_persistentvolumeclaims, reg_limitranges,
    reg_resourcequotas, reg_horizontalpodautoscalers, reg_ingresses, reg_ingressclasses, reg_networkpolicies,
    reg_poddisruptionbudgets, reg_priorityclasses, reg_storageclasses, reg_roles, reg_rolebindings, reg_clusterroles,
    reg_clusterrolebindings;
/* authorization.k8s.io/v1 reviews, create-only (apiserver/auth/reviews.c) */
extern const struct resource reg_localsubjectaccessreviews, reg_selfsubjectaccessreviews, reg_selfsubjectrulesreviews,
    reg_subjectaccessreviews;
/* certificates.k8s.io/v1 (apiserver/registry/certificatesigningrequests.c) */
extern const struct resource reg_certificatesigningrequests;
/* authentication.k8s.io/v1 reviews, create-only (apiserver/auth/authn_reviews.c) */
extern const struct resource reg_tokenreviews, reg_selfsubjectreviews;

/* admissionregistration.k8s.io/v1 (apiserver/registry/webhookconfigurations.c) */
extern const struct resource reg_mutatingwebhookconfigurations, reg_validatingwebhookconfigurations;

/* Every descriptor above, in discovery order; *n set to the count. */
const struct resource *const *registry_ext_all(size_t *n);

/* Creates the built-in PriorityClasses (system-cluster-critical,
 * system-node-critical) in storage when absent.  done(arg) runs once every
 * write is durable (at once when nothing had to be written; never from
 * inside this call when a write was queued).  Returns 0 or a negative
 * error (done is then not called). */
int registry_ext_bootstrap(struct apiserver *srv, void (*done)(void *arg), void *arg);

#endif
