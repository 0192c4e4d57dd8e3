/*
 * server.h - the kubelet's HTTP servers.
 *
 * --port (10250): HTTPS, authenticated and authorized (server.c); the API
 * server proxies pods/log, exec, attach, portforward and nodes/proxy here.
 * --read-only-port (off unless set): plain HTTP, the read-only subset.
 * --healthz-port (10248 on 127.0.0.1): plain HTTP, /healthz only.
 * Every handler answers from the loop; long answers (logs -f) stream.
 */
#ifndef KL_SERVER_H
#define KL_SERVER_H

#include <stddef.h>

struct kubelet;
struct kl_server;
struct ksecure_attrs;

/* NULL with a message when a port cannot be opened. */
struct kl_server *kl_server_new(struct kubelet *k, char *err, size_t errlen);
void kl_server_free(struct kl_server *s);
/* Bound ports (for logs and tests); 0 when off. */
int kl_server_port(const struct kl_server *s);
/* What a request on the HTTPS port is authorized as (upstream's kubelet
 * authorizer attributes): nodes/NODE_NAME, verb from the method,
 * subresource stats, metrics, log or spec for those paths, else proxy. */
void kl_server_request_attrs(const char *node_name, const char *method, const char *path, struct ksecure_attrs *out);

#endif
