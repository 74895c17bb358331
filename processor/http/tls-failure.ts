// Turns a TLS failure into a sentence that says what went wrong and what to set, so a job whose
// endpoint certificate does not verify says why in its log and status instead of "network error".
// Node names verification failures by OpenSSL's codes and TLS alerts by ERR_SSL_*_ALERT_* codes.

const untrusted =
  "the endpoint's certificate is signed by an unknown authority: set endpoint.tls.ca (caFile in a processor config) to the CA that signed it";

const clientRefused =
  "the endpoint refused the client certificate (or its absence): set endpoint.tls.clientCertificate (certFile and keyFile) to a certificate it trusts";

const explanations: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: untrusted,
  UNABLE_TO_GET_ISSUER_CERT: untrusted,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: untrusted,
  SELF_SIGNED_CERT_IN_CHAIN: untrusted,
  DEPTH_ZERO_SELF_SIGNED_CERT:
    "the endpoint's certificate is self-signed: set endpoint.tls.ca (caFile in a processor config) to it or to the CA that should sign it",
  CERT_HAS_EXPIRED: "the endpoint's certificate has expired: renew it",
  CERT_NOT_YET_VALID:
    "the endpoint's certificate is not valid yet: check the clocks of the endpoint and the processors",
  ERR_TLS_CERT_ALTNAME_INVALID:
    "the endpoint's certificate is not issued for the name called: call the endpoint by a name the certificate holds, or set endpoint.tls.serverName to one",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: clientRefused,
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: clientRefused,
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: clientRefused,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    "the endpoint says the client certificate has expired: renew it",
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: clientRefused,
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE:
    "the TLS handshake failed (no common protocol version or cipher, or a client certificate is required): check endpoint.tls and the endpoint's TLS settings",
};

/** Marks an explained TLS failure in a reason, which the operator's status reads. */
const marker = "TLS: ";

/** What to do about a TLS failure, or undefined if the error is not one. */
export function explainTlsFailure(code: string | undefined): string | undefined {
  if (code === undefined) return undefined;
  const explanation = explanations[code];
  return explanation === undefined ? undefined : `${marker}${explanation}`;
}

/** Whether a failure reason (as the caller words it) is an explained TLS failure. */
export const isTlsFailureReason = (reason: string): boolean => reason.includes(marker);

/** The same error with the explanation as its message, keeping its code for the caller's reason. */
export function withTlsExplanation(error: unknown): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  const explanation = explainTlsFailure(typeof code === "string" ? code : undefined);
  if (explanation === undefined) return error;
  return Object.assign(new Error(explanation, { cause: error }), { code });
}
