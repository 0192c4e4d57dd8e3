/*
 * certificatesigningrequests.h - the pieces of the CertificateSigningRequest
 * strategy (certificatesigningrequests.c) that unit tests call directly.
 */
#ifndef APISERVER_CERTIFICATESIGNINGREQUESTS_H
#define APISERVER_CERTIFICATESIGNINGREQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "registry/registry.h"

/* A PEM CERTIFICATE REQUEST parsed (caller frees with X509_REQ_free), or
 * NULL with upstream's message in err. */
X509_REQ *csr_parse_pem(const unsigned char *pem, size_t len, char *err, size_t errlen);
/* Whether spec.request (base64 of PEM, obj borrowed) names org among its
 * subject's O values. */
bool csr_request_has_org(const json_t *obj, const char *org);
/* status.certificate content rules; 0 or -1 with the message in err. */
int csr_check_certificate(const unsigned char *pem, size_t len, char *err, size_t errlen);
/* upstream ValidateSignerName, causes appended for field. */
void csr_validate_signer_name(const char *signer, const char *field, json_t *causes);
/* The full validation (rq->subresource picks the update rules; old NULL
 * on create). */
void csr_validate(struct reg_request *rq, const json_t *obj, const json_t *old, json_t *causes);
/* The Condition column: "Pending", "Approved,Issued", "Denied", ...; buf returned. */
const char *csr_condition_summary(const json_t *obj, char *buf, size_t len);

#endif
