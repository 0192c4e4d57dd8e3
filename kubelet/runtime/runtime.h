/*
 * runtime.h - the container runtime as the kubelet sees it.
 *
 * A small asynchronous interface shaped like the CRI (RuntimeService and
 * ImageService), so that a CRI client can be added next to the Docker
 * Engine API implementation (docker.c) without touching the kubelet.
 * Messages are json_t trees with the CRI's field names (protobuf JSON
 * spelling), for example a ContainerConfig:
 *   {"metadata":{"name":"app","attempt":0}, "image":{"image":"busybox"},
 *    "command":[...], "args":[...], "workingDir":"", "envs":[{"key","value"}],
 *    "mounts":[{"containerPath","hostPath","readonly"}], "labels":{}, "annotations":{},
 *    "logPath":"", "stdin":false, "stdinOnce":false, "tty":false,
 *    "linux":{"resources":{"cpuPeriod","cpuQuota","cpuShares","memoryLimitInBytes","oomScoreAdj"},
 *             "securityContext":{"privileged","readonlyRootfs","runAsUser":{"value"},
 *               "runAsGroup":{"value"},"supplementalGroups":[],"noNewPrivs",
 *               "capabilities":{"addCapabilities":[],"dropCapabilities":[]}}}}
 * and the states CONTAINER_CREATED/RUNNING/EXITED/UNKNOWN, SANDBOX_READY/
 * SANDBOX_NOTREADY; times are nanoseconds since the epoch.
 *
 * One runtime instance belongs to one node: an implementation that shares
 * its engine with other kubelets (several test nodes on one dockerd) must
 * list, watch and touch only what this instance created.
 *
 * Every call completes through its callback from the event loop, never
 * inside the call.  err is 0 or a negative errno: -ENOENT (no such
 * container, sandbox or image), -EEXIST, -ETIMEDOUT, -EIO (the runtime
 * refused; msg says why), -ECONNREFUSED (runtime unreachable).  result
 * and msg are borrowed for the duration of the callback.
 */
#ifndef KL_RUNTIME_H
#define KL_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct event_base;
struct kl_runtime;
struct kl_rt_stream;
struct kl_rt_logs;

typedef void (*kl_rt_done_fn)(void *arg, int err, json_t *result, const char *msg);
/* A runtime event: {"containerId","podSandboxId","type":"CONTAINER_STARTED_EVENT"|...}.
 * KL_CONTAINER_OOM_EVENT (no CRI counterpart): the container met its memory
 * limit; an inspection made before may not have said OOMKilled yet. */
#define KL_CONTAINER_OOM_EVENT "CONTAINER_OOM_EVENT"
typedef void (*kl_rt_event_fn)(void *arg, const json_t *event);

/* Log options (ContainerLogs: kubectl logs semantics). */
struct kl_rt_log_opts {
  bool follow;
  bool timestamps;
  int64_t tail_lines;  /* -1: all */
  int64_t since_us;    /* 0: from the start; wall clock */
  int64_t limit_bytes; /* 0: no limit */
};
/* stream: 1 stdout, 2 stderr.  Return 0 to go on, -1 to stop. */
typedef int (*kl_rt_output_fn)(void *arg, int stream, const char *data, size_t len);

/* Interactive exec/attach session callbacks. */
struct kl_rt_stream_cbs {
  kl_rt_output_fn output;                                             /* container output */
  void (*exited)(void *arg, int err, int exit_code, const char *msg); /* end of session */
  void *arg;
};

struct kl_runtime_ops {
  const char *name;
  /* Calls still in flight may be abandoned: their callbacks never run. */
  void (*free)(struct kl_runtime *rt);
  /* Requests in flight (not counting the event subscription). */
  size_t (*pending)(struct kl_runtime *rt);
  /* {"runtimeName","runtimeVersion","runtimeApiVersion"} */
  void (*version)(struct kl_runtime *rt, kl_rt_done_fn done, void *arg);
  /* Sandbox: PodSandboxConfig -> {"podSandboxId"} */
  void (*run_pod_sandbox)(struct kl_runtime *rt, const json_t *config, kl_rt_done_fn done, void *arg);
  void (*stop_pod_sandbox)(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg);
  void (*remove_pod_sandbox)(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg);
  /* {"status":PodSandboxStatus, "info":{"pid":N, "resolvConfPath"}} */
  void (*pod_sandbox_status)(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg);
  /* {"items":[PodSandbox]} */
  void (*list_pod_sandbox)(struct kl_runtime *rt, kl_rt_done_fn done, void *arg);
  /* ContainerConfig in sandbox -> {"containerId"} */
  void (*create_container)(struct kl_runtime *rt, const char *sandbox_id, const json_t *config,
                           const json_t *sandbox_config, kl_rt_done_fn done, void *arg);
  void (*start_container)(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg);
  /* SIGTERM (or the image's stop signal), then SIGKILL after timeout_s. */
  void (*stop_container)(struct kl_runtime *rt, const char *id, int64_t timeout_s, kl_rt_done_fn done, void *arg);
  void (*remove_container)(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg);
  /* {"containers":[Container]} (also exited ones) */
  void (*list_containers)(struct kl_runtime *rt, kl_rt_done_fn done, void *arg);
  /* {"status":ContainerStatus (with the podSandboxId it runs in), "info":{"pid":N}} */
  void (*container_status)(struct kl_runtime *rt, const char *id, kl_rt_done_fn done, void *arg);
  /* Runs cmd (array of strings) to completion or timeout:
   * {"stdout","stderr","exitCode"} (output capped at 16 KiB each). */
  void (*exec_sync)(struct kl_runtime *rt, const char *id, const json_t *cmd, int64_t timeout_s, kl_rt_done_fn done,
                    void *arg);
  /* Streams the container's log; done when finished (follow: when the
   * container stops or the caller returned -1).  The handle (NULL on
   * allocation failure, done then not called) cancels it: no callback
   * runs afterwards. */
  struct kl_rt_logs *(*container_logs)(struct kl_runtime *rt, const char *id, const struct kl_rt_log_opts *opts,
                                       kl_rt_output_fn out, kl_rt_done_fn done, void *arg);
  void (*logs_cancel)(struct kl_rt_logs *l);
  /* Interactive exec (cmd != NULL) or attach (cmd == NULL). */
  struct kl_rt_stream *(*stream_start)(struct kl_runtime *rt, const char *id, const json_t *cmd, bool tty, bool in,
                                       bool out, bool err, const struct kl_rt_stream_cbs *cbs);
  int (*stream_stdin)(struct kl_rt_stream *s, const char *data, size_t len); /* len 0: close stdin */
  void (*stream_resize)(struct kl_rt_stream *s, int width, int height);
  /* Back-pressure: stop reading the session's output / read again. */
  void (*stream_pause)(struct kl_rt_stream *s, bool paused);
  void (*stream_close)(struct kl_rt_stream *s); /* no callback afterwards */
  /* Subscribes to container events (started, stopped, created, deleted). */
  void (*watch_events)(struct kl_runtime *rt, kl_rt_event_fn fn, void *arg);
  /* Images: {"images":[Image{"id","repoTags","repoDigests","size"}]} */
  void (*list_images)(struct kl_runtime *rt, kl_rt_done_fn done, void *arg);
  /* {"image":Image} or -ENOENT */
  void (*image_status)(struct kl_runtime *rt, const char *image, kl_rt_done_fn done, void *arg);
  /* auth: {"username","password","auth","serverAddress"} or NULL -> {"imageRef"} */
  void (*pull_image)(struct kl_runtime *rt, const char *image, const json_t *auth, kl_rt_done_fn done, void *arg);
  void (*remove_image)(struct kl_runtime *rt, const char *image, kl_rt_done_fn done, void *arg);
  /* Loads an image from a tar of its root filesystem (the built-in pause
   * image): {"imageRef"}.  entrypoint: JSON array of strings. */
  void (*import_image)(struct kl_runtime *rt, const char *image, const void *rootfs_tar, size_t len,
                       const json_t *entrypoint, kl_rt_done_fn done, void *arg);
};

struct kl_runtime {
  const struct kl_runtime_ops *ops;
};

/* The Docker Engine API implementation. */
struct kl_docker_opts {
  const char *socket_path;            /* "/var/run/docker.sock" */
  const char *node_name;              /* scopes everything this instance sees */
  const char *pause_image;            /* the sandbox image */
  const char *host_network_container; /* NULL/"": host-network pods use the runtime's
                                        own network namespace; else they join
                                        this container's (the node's) */
  int64_t request_timeout_ms;         /* --runtime-request-timeout */
  int64_t log_max_size_bytes;         /* containerLogMaxSize */
  int log_max_files;                  /* containerLogMaxFiles */
  int min_oom_score_adj;              /* lower values are clamped to it */
};
/* NULL on allocation failure (an unreachable engine is not an error
 * here: calls fail with -ECONNREFUSED until it answers). */
struct kl_runtime *kl_docker_new(struct event_base *base, const struct kl_docker_opts *opts);

/* Upstream's state names. */
#define KL_CONTAINER_CREATED "CONTAINER_CREATED"
#define KL_CONTAINER_RUNNING "CONTAINER_RUNNING"
#define KL_CONTAINER_EXITED "CONTAINER_EXITED"
#define KL_CONTAINER_UNKNOWN "CONTAINER_UNKNOWN"
#define KL_SANDBOX_READY "SANDBOX_READY"
#define KL_SANDBOX_NOTREADY "SANDBOX_NOTREADY"

/* The labels the kubelet puts on sandboxes and containers (upstream's). */
#define KL_LABEL_POD_NAME "io.kubernetes.pod.name"
#define KL_LABEL_POD_NAMESPACE "io.kubernetes.pod.namespace"
#define KL_LABEL_POD_UID "io.kubernetes.pod.uid"
#define KL_LABEL_CONTAINER_NAME "io.kubernetes.container.name"
#define KL_LABEL_RESTART_COUNT "io.kubernetes.container.restartCount"
#define KL_LABEL_CONTAINER_HASH "io.kubernetes.container.hash"

#endif
