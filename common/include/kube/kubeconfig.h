/*
 * kubeconfig.h - client configuration from a kubeconfig file, a --master
 * URL, or the in-cluster service account, with upstream's precedence:
 * the chosen context (--context, else current-context) names a cluster and
 * a user; --master replaces the cluster's server.  With neither a file nor
 * --master, the in-cluster config (KUBERNETES_SERVICE_HOST/PORT and the
 * service account token and CA) is used.
 */
#ifndef KUBE_KUBECONFIG_H
#define KUBE_KUBECONFIG_H

#include <stddef.h>
#include <jansson.h>

#include "kube/restclient.h"

/*
 * Fills out (rest_config_init'ed by this function, so pass any struct)
 * from the kubeconfig at path (NULL or "" for none), the context override
 * (NULL/"" for current-context) and master (NULL/"" for none).  File paths
 * inside the kubeconfig are relative to its directory; *-data fields are
 * base64.  Returns 0, or a negative errno with an upstream-like message in
 * err ("context \"foo\" does not exist"); out is then empty.
 */
int kubeconfig_load(const char *path, const char *context, const char *master, struct rest_config *out, char *err,
                    size_t errlen);
/* Same from an already parsed kubeconfig document (borrowed); dir is the
 * base for relative file paths (NULL: current directory). */
int kubeconfig_from_json(const json_t *doc, const char *dir, const char *context, const char *master,
                         struct rest_config *out, char *err, size_t errlen);

#endif
