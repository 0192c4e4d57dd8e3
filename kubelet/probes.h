/*
 * probes.h - liveness, readiness and startup probes (upstream's prober
 * workers): one timer per probe of each running container, first after
 * initialDelaySeconds from the container's start, then every
 * periodSeconds, each try bounded by timeoutSeconds; successThreshold
 * successes or failureThreshold failures in a row flip the result.
 * Readiness starts as failure, startup as not started, liveness as
 * success; liveness and readiness wait until the startup probe succeeds.
 * A readiness change requeues the pod (its Ready condition); a liveness or
 * startup failure marks the container for a restart ("Container c failed
 * liveness probe, will be restarted").  Every failed try records a
 * Warning Unhealthy event as upstream does.
 */
#ifndef KL_PROBES_H
#define KL_PROBES_H

struct kl_pod;
struct kl_probe;
struct kubelet;

/* Probe workers follow the pod's running containers. */
void kl_probes_sync(struct kl_pod *p);
/* Stops every probe of the pod (termination). */
void kl_probes_stop(struct kl_pod *p);
void kl_probe_free(struct kl_probe *pr);

#endif
