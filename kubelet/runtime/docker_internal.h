/*
 * docker_internal.h - shared between the files of the Docker Engine API
 * runtime (docker.c: sandboxes and containers; docker_images.c: images;
 * docker_stream.c: logs, exec, attach, events; docker_convert.c: the
 * translation between CRI-shaped messages and the Engine API's).
 *
 * How CRI objects live in Docker (as upstream's dockershim kept them):
 *   a sandbox is a pause container named k8s_POD_<pod>_<ns>_<uid>_<attempt>,
 *   an app container is named k8s_<container>_<pod>_<ns>_<uid>_<attempt>;
 *   both carry the CRI labels as Docker labels, the CRI annotations as
 *   labels "annotation.<key>", plus
 *     io.kubernetes.docker.type = podsandbox | container
 *     io.kubernetes.sandbox.id  = the sandbox's id (containers)
 *     io.kubernetes.node.name   = the node (every list and event stream
 *                                 filters on it: kubelets sharing one
 *                                 dockerd never see each other's work).
 */
#ifndef KL_DOCKER_INTERNAL_H
#define KL_DOCKER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "docker_client.h"
#include "runtime.h"

#define DK_API "/v1.41"
#define DK_LABEL_TYPE "io.kubernetes.docker.type"
#define DK_LABEL_SANDBOX_ID "io.kubernetes.sandbox.id"
#define DK_LABEL_NODE "io.kubernetes.node.name"
#define DK_ANNOTATION_PREFIX "annotation."
#define DK_TYPE_SANDBOX "podsandbox"
#define DK_TYPE_CONTAINER "container"

struct event;

struct dk_runtime {
  struct kl_runtime base;
  struct event_base *ev_base;
  struct dk_client *cli;
  char *node;
  char *socket_path;
  char *pause_image;
  char *host_net; /* "host" or "container:<id>" (--host-network-container) */
  int64_t log_max_size;
  int log_max_files;
  int min_oom;
  /* event stream */
  kl_rt_event_fn ev_fn;
  void *ev_arg;
  struct dk_req *ev_req;
  struct event *ev_timer;
  char *ev_buf;
  size_t ev_len;
  int64_t ev_backoff_ms;
  struct dk_call *calls; /* operations in flight */
};

/* An operation in progress: the caller's callback plus scratch fields. */
struct dk_call {
  struct dk_runtime *rt;
  kl_rt_done_fn done;
  void *arg;
  char id[80];
  char id2[80];
  json_t *data; /* owned scratch */
  int64_t n;
  int step;
  void (*cleanup)(void *owner); /* frees the object the call belongs to
                                   when the runtime goes first */
  void *owner;
  struct dk_call *prev, *next;
};

struct dk_call *dk_call_new(struct dk_runtime *rt, kl_rt_done_fn done, void *arg);
/* Calls done (once) and frees the call. */
void dk_call_finish(struct dk_call *c, int err, json_t *result, const char *msg);
/* Forgets c without calling back (the caller cancelled). */
void dk_call_drop(struct dk_call *c);
/* Finishes c with the error of a failed response. */
void dk_call_fail(struct dk_call *c, const struct dk_response *r);
/* errno for a response: 0 for 2xx, -ENOENT 404, -EEXIST 409, -ECONNREFUSED
 * or -ETIMEDOUT for transport errors, -EIO otherwise. */
int dk_errno(const struct dk_response *r);
/* Parses a 2xx JSON body (new reference) or NULL. */
json_t *dk_body_json(const struct dk_response *r);

/* ---- docker_convert.c: pure translations (unit-tested) ---- */
/* k8s_POD_<name>_<ns>_<uid>_<attempt> / k8s_<c>_<pod>_<ns>_<uid>_<attempt> */
char *dk_sandbox_name(const json_t *sandbox_config);
char *dk_container_name(const json_t *container_config, const json_t *sandbox_config);
/* Fills metadata from a Docker name; 0 or -EINVAL. */
int dk_parse_name(const char *name, bool sandbox, json_t **metadata_out);
/* Docker labels from CRI labels + annotations (new object). */
json_t *dk_make_labels(const json_t *labels, const json_t *annotations, const char *type, const char *node,
                       const char *sandbox_id);
/* Splits Docker labels back into CRI labels and annotations (new refs). */
void dk_split_labels(const json_t *docker_labels, json_t **labels, json_t **annotations);
/* The Engine API's container create body for a sandbox / a container. */
/* host_net: the NetworkMode of host-network pods ("host", or
 * "container:<id>" when another container holds the node's network). */
json_t *dk_sandbox_create_body(const json_t *config, const char *image, const char *node, const char *host_net,
                               int min_oom);
json_t *dk_container_create_body(const json_t *config, const json_t *sandbox_config, const char *sandbox_id,
                                 const char *node, const char *host_net);
/* Engine list item -> CRI Container / PodSandbox (new references). */
json_t *dk_to_container(const json_t *item);
json_t *dk_to_sandbox(const json_t *item);
/* Engine inspect -> CRI ContainerStatus / PodSandboxStatus. */
json_t *dk_to_container_status(const json_t *inspect);
json_t *dk_to_sandbox_status(const json_t *inspect);
/* RFC 3339 (Docker's) to ns since the epoch; 0 for the zero time. */
int64_t dk_time_ns(const char *s);
/* resolv.conf text for a CRI DNSConfig (caller frees). */
char *dk_resolv_conf(const json_t *dns_config);
/* "repo[:tag]" / "repo@digest" -> fromImage and tag query parts. */
void dk_split_image_ref(const char *image, char *repo, size_t rlen, char *tag, size_t tlen);
/* Demultiplexes Docker's stdout/stderr stream framing: consumes whole
 * frames from buf (returns the bytes consumed), calling out for each. */
size_t dk_demux(const char *buf, size_t len, kl_rt_output_fn out, void *arg, bool *stop);

/* ---- docker_images.c / docker_stream.c ---- */
void dk_list_images(struct kl_runtime *rt, kl_rt_done_fn done, void *arg);
void dk_image_status(struct kl_runtime *rt, const char *image, kl_rt_done_fn done, void *arg);
void dk_pull_image(struct kl_runtime *rt, const char *image, const json_t *auth, kl_rt_done_fn done, void *arg);
void dk_remove_image(struct kl_runtime *rt, const char *image, kl_rt_done_fn done, void *arg);
void dk_import_image(struct kl_runtime *rt, const char *image, const void *tar, size_t len, const json_t *entrypoint,
                     kl_rt_done_fn done, void *arg);
void dk_exec_sync(struct kl_runtime *rt, const char *id, const json_t *cmd, int64_t timeout_s, kl_rt_done_fn done,
                  void *arg);
struct kl_rt_logs *dk_container_logs(struct kl_runtime *rt, const char *id, const struct kl_rt_log_opts *opts,
                                     kl_rt_output_fn out, kl_rt_done_fn done, void *arg);
void dk_logs_cancel(struct kl_rt_logs *l);
void dk_watch_events(struct kl_runtime *rt, kl_rt_event_fn fn, void *arg);
void dk_events_free(struct dk_runtime *d);
struct kl_rt_stream *dk_stream_start(struct kl_runtime *rt, const char *id, const json_t *cmd, bool tty, bool in,
                                     bool out, bool err, const struct kl_rt_stream_cbs *cbs);
int dk_stream_stdin(struct kl_rt_stream *s, const char *data, size_t len);
void dk_stream_resize(struct kl_rt_stream *s, int width, int height);
void dk_stream_pause(struct kl_rt_stream *s, bool paused);
void dk_stream_close(struct kl_rt_stream *s);

#endif
