/*
 * sa_clients.h - --use-service-account-credentials: one REST client per
 * controller service account, as upstream's SAControllerClientBuilder.
 *
 * For each name asked for, the kube-system ServiceAccount of that name is
 * made if missing and a token is requested for it (TokenRequest,
 * expirationSeconds 3600) with the controller-manager's own credentials;
 * the client is the root client's configuration (server, CA, limits)
 * with that token instead of the root identity (no client certificate,
 * no token file), so the API server sees
 * system:serviceaccount:kube-system:NAME, bound by the bootstrap policy
 * to system:controller:NAME.  A token is requested again when 80% of its
 * life has passed (upstream's 20% leeway) and swapped into the client in
 * place: controllers keep their pointer.  Failures are retried with
 * backoff (1 s doubling to 30 s) and logged; controllers start only once
 * every client has its first token (cm_sa_clients_start's ready).
 */
#ifndef CM_SA_CLIENTS_H
#define CM_SA_CLIENTS_H

struct cm_ctx;
struct cm_sa_clients;
struct rest_client;

/* Root client and loop from ctx (borrowed for the set's life). */
struct cm_sa_clients *cm_sa_clients_new(struct cm_ctx *ctx);
/* Asks for the client of service account name (duplicates are shared). */
void cm_sa_clients_want(struct cm_sa_clients *s, const char *name);
/* Gets every token; ready(arg) runs once, when all clients have one. */
void cm_sa_clients_start(struct cm_sa_clients *s, void (*ready)(void *arg), void *arg);
/* The client of name (asked for with _want and started), borrowed; NULL
 * if never asked for. */
struct rest_client *cm_sa_client(struct cm_sa_clients *s, const char *name);
void cm_sa_clients_free(struct cm_sa_clients *s);

#endif
