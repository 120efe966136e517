import { TLSSocket } from 'node:tls';
import type { Config } from '@vigil/config';
import { KmeUnauthorizedError, SaeId, type SaeCaller } from '@vigil/kme-contract';
import { certificateNames, certificateSha256, type CertificateNames } from '@vigil/pki';
import Compile from 'typebox/compile';
import type { CertificateRefusal } from './refusal-reporter.ts';

export type SaeIdSource = Config['VIGIL_SAE_ID_FROM'];

/** Who a connection is: the SAE_ID its certificate carries, and that certificate's SHA-256. */
export type ConnectionIdentity =
  | { readonly ok: true; readonly caller: SaeCaller }
  | { readonly ok: false; readonly message: string; readonly refusal: CertificateRefusal };

const isSaeId = Compile(SaeId);

const sourceName: Readonly<Record<SaeIdSource, string>> = { cn: 'subject CN', 'uri-san': 'URI subject alternative name', 'dns-san': 'DNS subject alternative name' };

function candidates(names: CertificateNames, from: SaeIdSource): readonly string[] {
  if (from === 'cn') return names.commonNames;
  if (from === 'uri-san') return names.uris;
  return names.dnsNames;
}

/**
 * Reads the SAE_ID from a verified client certificate. Exactly one value must stand where the settings say:
 * with two, which SAE is calling would be a guess. Whether that SAE is registered, attached to this KME and
 * pinned to this certificate is the KME worker's decision, not the edge's.
 */
export function identityOfCertificate(der: Buffer, from: SaeIdSource, remoteAddress?: string): ConnectionIdentity {
  const sha256 = certificateSha256(der);
  const refuse = (message: string, subject?: string): ConnectionIdentity => ({
    ok: false,
    message,
    refusal: { reason: message, certificateSha256: sha256, ...(subject ? { subject } : {}), ...(remoteAddress ? { remoteAddress } : {}) },
  });
  let names: CertificateNames;
  try {
    names = certificateNames(der);
  } catch {
    return refuse('the client certificate cannot be read');
  }
  const values = candidates(names, from);
  if (values.length !== 1) return refuse(`the client certificate must carry exactly one SAE_ID in its ${sourceName[from]} (it has ${values.length})`, names.subject);
  const [saeId] = values;
  if (saeId === undefined || !isSaeId.Check(saeId)) return refuse(`the SAE_ID in the client certificate's ${sourceName[from]} is not a valid SAE ID`, names.subject);
  return { ok: true, caller: { actor: { kind: 'sae', id: saeId }, certificateSha256: sha256 } };
}

/**
 * The caller of a request, read once per connection (keep-alive connections carry many requests) and cached with
 * the socket. A connection that is not TLS, or whose certificate did not verify, never gets here past the gate;
 * this check refuses it again so that no bug elsewhere can serve it.
 */
export class ConnectionIdentities {
  readonly #known = new WeakMap<TLSSocket, ConnectionIdentity>();
  readonly #from: SaeIdSource;
  readonly #onRefused: (refusal: CertificateRefusal) => void;

  constructor(from: SaeIdSource, onRefused: (refusal: CertificateRefusal) => void) {
    this.#from = from;
    this.#onRefused = onRefused;
  }

  callerOf(socket: unknown): SaeCaller {
    if (!(socket instanceof TLSSocket) || !socket.authorized) throw new KmeUnauthorizedError('a verified client certificate is required');
    let identity = this.#known.get(socket);
    if (!identity) {
      identity = identityOfCertificate(socket.getPeerCertificate().raw, this.#from, socket.remoteAddress);
      this.#known.set(socket, identity);
      if (!identity.ok) this.#onRefused(identity.refusal);
    }
    if (!identity.ok) throw new KmeUnauthorizedError(identity.message);
    return identity.caller;
  }
}
