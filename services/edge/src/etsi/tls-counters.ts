/**
 * Tallies of one ETSI listener's refused connections. A flood that the audit rate cap drops still shows here
 * (in /health/detailed through the service's details, and for a metrics scrape).
 */
export interface TlsCounters {
  /** Connections refused for their certificate, by reason (CERT_HAS_EXPIRED, CERT_REVOKED, ...). */
  readonly certificateRefusals: Map<string, number>;
  /** TLS handshakes that failed before any certificate check (protocol version, ciphers, garbage), by code. */
  readonly handshakeFailures: Map<string, number>;
  /** Certificate refusals not written to AUDIT because of the rate cap. */
  unreportedRefusals: number;
}

export function createTlsCounters(): TlsCounters {
  return { certificateRefusals: new Map(), handshakeFailures: new Map(), unreportedRefusals: 0 };
}

export function countInto(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

export function countersView(counters: TlsCounters): Record<string, unknown> {
  return {
    certificate_refusals: Object.fromEntries(counters.certificateRefusals),
    handshake_failures: Object.fromEntries(counters.handshakeFailures),
    unreported_certificate_refusals: counters.unreportedRefusals,
  };
}
