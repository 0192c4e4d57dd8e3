/*
 * env.h - a container's environment, as upstream's kubelet makes it
 * (makeEnvironmentVariables): service variables (docker-link style
 * FOO_SERVICE_HOST, FOO_PORT_80_TCP_ADDR ..., for the pod's namespace
 * unless enableServiceLinks is false, and always for the `kubernetes`
 * Service in `default`), envFrom (ConfigMaps and Secrets, with prefix;
 * keys that are not valid variable names are skipped with an event),
 * then env in order: value with $(VAR) expansion over what is defined so
 * far, or valueFrom fieldRef, resourceFieldRef, configMapKeyRef,
 * secretKeyRef.  Missing objects or keys fail with upstream's messages
 * (the kubelet reports CreateContainerConfigError) unless optional.
 */
#ifndef KL_ENV_H
#define KL_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

enum { KL_ENV_OK = 0, KL_ENV_PENDING = 1, KL_ENV_ERROR = -1 };

struct kl_env_ctx {
  const json_t *pod;
  const json_t *container;
  const json_t *services; /* array of Services (any namespaces) */
  const char *host_ip;
  const char *pod_ip;
  const json_t *node_allocatable; /* for resourceFieldRef without limits */
  /* kind "ConfigMap" or "Secret": 0 with *out borrowed, -ENOENT, or
   * -EAGAIN while the object is still being fetched. */
  int (*get_object)(void *arg, const char *kind, const char *ns, const char *name, const json_t **out);
  /* Warning events (InvalidEnvironmentVariableNames). */
  void (*warn)(void *arg, const char *reason, const char *msg);
  void *arg;
};

/* KL_ENV_OK with *out a new array of {"key","value"}; KL_ENV_PENDING when
 * an object is not fetched yet; KL_ENV_ERROR with the message in err. */
int kl_env_build(const struct kl_env_ctx *c, json_t **out, char *err, size_t errlen);
/* $(VAR) expansion over vars (object name -> string); "$$" escapes.
 * Caller frees. */
char *kl_env_expand(const char *in, const json_t *vars);
/* Service variables visible to a pod in ns (object name -> value). */
json_t *kl_service_env(const json_t *services, const char *ns, bool enable_links);
/* The value of a fieldRef path for the pod ("metadata.labels['app']"),
 * NULL with a message when unsupported.  Caller frees. */
char *kl_field_ref(const json_t *pod, const char *path, const char *host_ip, const char *pod_ip, char *err,
                   size_t errlen);
/* A resourceFieldRef value ("limits.memory" with divisor) as a string.
 * Caller frees; NULL with a message. */
char *kl_resource_field_ref(const json_t *container, const json_t *ref, const json_t *node_allocatable, char *err,
                            size_t errlen);
/* Environment variable names as v1.32 accepts them (relaxed validation,
 * on by default): printable ASCII without '='. */
bool kl_is_env_var_name(const char *s);

#endif
