/*
 * localpath.h - the names of the built-in local-path provisioner, shared
 * by the three programs that take part in it: the API server creates its
 * default StorageClass, the controller-manager's persistentvolume-binder
 * provisions and releases its volumes, the kubelet of a volume's node
 * makes and removes the volume's directory.
 */
#ifndef KUBE_LOCALPATH_H
#define KUBE_LOCALPATH_H

/* The StorageClass provisioner (and the volumes' provisioned-by). */
#define LOCAL_PATH_PROVISIONER "kube.local/local-path"
/* On a provisioned volume with reclaim Delete: removed by the kubelet of
 * the volume's node once it has removed the directory (or by the binder
 * when that node no longer exists). */
#define LOCAL_PATH_FINALIZER "kube.local/local-path-cleanup"
/* The name of the volume's node, on the volume. */
#define LOCAL_PATH_NODE_ANNOTATION "kube.local/local-path-node"
/* Default of --local-path-root (controller-manager and kubelet alike). */
#define LOCAL_PATH_DEFAULT_ROOT "/var/lib/kubelet-local-path"

#endif
