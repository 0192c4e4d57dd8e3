/*
 * server_handlers.h - the kubelet server's endpoints outside server.c:
 * /pods and /runningpods, /containerLogs (server_logs.c), /stats/summary
 * and /metrics/resource (stats.c), /logs (server_logs.c).
 */
#ifndef KL_SERVER_HANDLERS_H
#define KL_SERVER_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>

struct kubelet;
struct http_request;

void kl_serve_pods(struct kubelet *k, struct http_request *req, bool running_only);
void kl_serve_container_logs(struct kubelet *k, struct http_request *req);
void kl_serve_node_logs(struct kubelet *k, struct http_request *req);
void kl_serve_stats_summary(struct kubelet *k, struct http_request *req);
void kl_serve_metrics_resource(struct kubelet *k, struct http_request *req);
/* /exec, /attach, /portForward (server_stream.c). */
void kl_serve_stream(struct kubelet *k, struct http_request *req);

/* Which container id the logs of namespace/pod/container come from (the
 * status rules of upstream's validateContainerLogStatus).  0 with the
 * runtime id in id, or an HTTP code with the message in err. */
int kl_logs_container_id(struct kubelet *k, const char *ns, const char *pod, const char *container, bool previous,
                         char *id, size_t idlen, char *err, size_t errlen);

#endif
