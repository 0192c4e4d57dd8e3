/*
 * rootcacertpublisher.h - the root CA publisher's pure pieces, for tests.
 */
#ifndef CM_ROOTCACERTPUBLISHER_H
#define CM_ROOTCACERTPUBLISHER_H

#include <stddef.h>
#include <jansson.h>

struct cm_actions;

#define ROOTCA_CONFIGMAP "kube-root-ca.crt"
#define ROOTCA_DESCRIPTION_ANNOTATION "kubernetes.io/description"
#define ROOTCA_DESCRIPTION                                                                                             \
  "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "      \
  "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "    \
  "clusters."

/* Reads --root-ca-file into *out (new string, caller frees): 0, or a
 * negative errno with upstream's message in err when the file cannot be
 * read or holds no certificate. */
int rootca_load(const char *path, char **out, char *err, size_t errlen);
/* Appends to acts the write that makes namespace ns (borrowed) hold the
 * kube-root-ca.crt ConfigMap with bundle ca, given the cached ConfigMap
 * cm (borrowed, NULL when the cache has none).  Nothing for a namespace
 * being deleted or already holding the right data and annotation. */
void rootca_actions(const json_t *ns, const json_t *cm, const char *ca, struct cm_actions *acts);

#endif
