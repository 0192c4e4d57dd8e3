/*
 * csrsigning.h - the pure steps of the csrsigning controller
 * (csrsigning.c), for tests.
 */
#ifndef CM_CSRSIGNING_H
#define CM_CSRSIGNING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "controllers/certificates.h"
#include "framework.h"

/* The signer's rules for csr's request: 0 valid, 1 not one of the three
 * signers, -1 invalid with upstream's message in err. */
int csrsign_check_signer(X509_REQ *req, const json_t *csr, char *err, size_t errlen);
/* Appends the status PUT csr needs (certificate or Failed condition), or
 * nothing.  0, or -1 with err when the key should be retried (unparsable
 * request, signing error).  csr borrowed. */
int csrsign_compute(const json_t *csr, const struct certs_ca *ca, int64_t max_duration_s, time_t now,
                    struct cm_actions *acts, char *err, size_t errlen);

#endif
