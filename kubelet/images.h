/*
 * images.h - the image manager: imagePullPolicy (Always, IfNotPresent,
 * Never) with registry credentials from imagePullSecrets, pulls one at a
 * time when serializeImagePulls, upstream's per pod+image pull back-off
 * (10 s doubling to 5 min: ErrImagePull, then ImagePullBackOff) and
 * events (Pulling, Pulled, Failed, BackOff, ErrImageNeverPull); the
 * built-in sandbox image imported when the runtime lacks it; the node's
 * image list for status.images.
 */
#ifndef KL_IMAGES_H
#define KL_IMAGES_H

#include <stddef.h>
#include <jansson.h>

struct kubelet;
struct kl_images;
struct kl_pod;

struct kl_images *kl_images_new(struct kubelet *k);
void kl_images_free(struct kl_images *im);
void kl_images_start(struct kl_images *im);

/* done(arg, 0, ref, image) when the container's image is there (ref: image
 * id; image: the runtime's image status when it was asked, NULL after a
 * pull); done(arg, -1, NULL, NULL) when not: reason and message are then
 * set in the container's state (ErrImagePull, ImagePullBackOff,
 * ErrImageNeverPull, InvalidImageName). */
void kl_images_ensure(struct kl_images *im, struct kl_pod *p, const json_t *container,
                      void (*done)(void *arg, int rc, const char *ref, json_t *image), void *arg);
/* The sandbox image: done(arg, 0, NULL) or (arg, -errno, message). */
void kl_images_ensure_pause(struct kl_images *im, void (*done)(void *arg, int rc, const char *msg), void *arg);
/* Refreshes the node's image list now. */
void kl_images_refresh(struct kl_images *im);

/* Pure helpers (unit-tested). */
/* The pull policy, defaulted as the API does when absent. */
const char *kl_image_pull_policy(const json_t *container);
/* The registry host of an image reference ("docker.io" for Docker Hub). */
void kl_image_registry(const char *image, char *out, size_t len);
/* Credentials for image from a kubernetes.io/dockerconfigjson or
 * dockercfg Secret (borrowed), or NULL (new reference). */
json_t *kl_image_auth_from_secret(const json_t *secret, const char *image);

#endif
