import { append, createEvent, type Bus } from '@vigil/bus';
import { securityLogger, type Logger } from '@vigil/log';
import { CertificateRejected } from '@vigil/schemas';
import { TokenBucket } from './token-bucket.ts';
import { countInto, type TlsCounters } from './tls-counters.ts';

/** A client certificate the listener refused: why, and which certificate when the client sent one. */
export interface CertificateRefusal {
  /** The verification error (CERT_HAS_EXPIRED, CERT_REVOKED, ...) or why no SAE_ID could be read. */
  readonly reason: string;
  readonly certificateSha256?: string;
  readonly subject?: string;
  readonly remoteAddress?: string;
}

export interface RefusalReporter {
  report(refusal: CertificateRefusal): void;
  /** Waits for the reports on their way to AUDIT (at stop, and in tests). */
  flush(): Promise<void>;
}

export interface ReporterOptions {
  readonly bus: Bus;
  readonly logger: Logger;
  /** Which listener refused, e.g. `etsi 127.0.0.1:8443` (known once it listens). */
  readonly listener: () => string;
  readonly counters: TlsCounters;
  /** Reports per second on average (default 10) and in a burst (default 20); beyond them refusals are only counted. */
  readonly reportsPerSecond?: number;
  readonly burst?: number;
}

const auditSubject = 'audit._platform.certificate_validation';

/**
 * Reports refused certificates on AUDIT (and in the log), at a capped rate: anyone can open TLS connections, and
 * a flood of bad handshakes must not become a flood of audit records. What the cap drops is counted.
 */
export function createRefusalReporter(options: ReporterOptions): RefusalReporter {
  const logger = securityLogger(options.logger, 'certificate_validation');
  const bucket = new TokenBucket(options.reportsPerSecond ?? 10, options.burst ?? 20);
  const inFlight = new Set<Promise<void>>();
  return {
    report(refusal) {
      countInto(options.counters.certificateRefusals, refusal.reason);
      if (!bucket.take()) {
        options.counters.unreportedRefusals += 1;
        return;
      }
      const certificate = {
        ...(refusal.certificateSha256 ? { certificate_sha256: refusal.certificateSha256 } : {}),
        ...(refusal.subject ? { subject: refusal.subject.slice(0, 300) } : {}),
      };
      logger.warn({ reason: refusal.reason, remote_address: refusal.remoteAddress, ...certificate }, 'client certificate refused');
      const event = createEvent(
        CertificateRejected,
        { category: 'certificate_validation', severity: 'warning', reason: refusal.reason.slice(0, 200), listener: options.listener().slice(0, 100), ...certificate },
        { actor: { kind: 'service', id: 'edge' } },
      );
      const sent = append(options.bus, auditSubject, event).then(
        () => undefined,
        (err: unknown) => logger.error({ err, reason: refusal.reason }, 'could not report a refused certificate on AUDIT'),
      );
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
    },
    async flush() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
