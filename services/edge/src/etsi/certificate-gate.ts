import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '@vigil/log';
import { certificateNames, certificateSha256 } from '@vigil/pki';
import type { RefusalReporter } from './refusal-reporter.ts';
import { countInto, type TlsCounters } from './tls-counters.ts';

/** The verification error Node recorded on a socket (a code string at run time, typed as Error). */
function verificationError(socket: TLSSocket): string {
  const value: unknown = socket.authorizationError;
  if (typeof value === 'string') return value;
  if (value instanceof Error && 'code' in value && typeof value.code === 'string') return value.code;
  return 'CERTIFICATE_NOT_AUTHORIZED';
}

/** The subject of a certificate for the audit record; a certificate the parser cannot read has none. */
function subjectOf(der: Buffer): string | undefined {
  try {
    return certificateNames(der).subject;
  } catch {
    return undefined;
  }
}

function errorCode(err: Error): string {
  return 'code' in err && typeof err.code === 'string' ? err.code : 'TLS_ERROR';
}

/**
 * Refuses, at TLS, every connection whose client certificate did not verify (none, unknown CA, expired, not yet
 * valid, revoked), reporting it; counts handshakes that failed earlier. Runs before the HTTP server sees the
 * connection (a prepended listener), so no request on such a connection is ever read.
 */
export function guardClientCertificates(server: Server, reporter: RefusalReporter, counters: TlsCounters, logger: Logger): void {
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (socket.authorized) return;
    const der = socket.getPeerCertificate().raw;
    // A client without a certificate shows as "unable to get issuer"; the audit record says what happened.
    const reason = der ? verificationError(socket) : 'PEER_DID_NOT_RETURN_A_CERTIFICATE';
    const subject = der ? subjectOf(der) : undefined;
    reporter.report({
      reason,
      ...(der ? { certificateSha256: certificateSha256(der) } : {}),
      ...(subject ? { subject } : {}),
      ...(socket.remoteAddress ? { remoteAddress: socket.remoteAddress } : {}),
    });
    socket.destroy();
  });
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    const code = errorCode(err);
    countInto(counters.handshakeFailures, code);
    logger.debug({ code, remote_address: socket.remoteAddress }, 'TLS handshake failed');
  });
}
