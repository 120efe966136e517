import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** TALQ API version this gateway speaks (the `talq-api-version` header of every request). */
export const talqApiVersion = '2.7.1';

/** Where and how the gateway reaches the CMS. */
export interface CmsEndpoint {
  /** Base URI of the CMS TALQ API (TALQ GatewayFunction.cmsUri). */
  readonly baseUrl: string;
  readonly token?: string;
  /** CA of the CMS server certificate; the gateway certificate and key are its client certificate (mutual TLS). */
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly timeoutMs?: number;
}

export interface CmsAnswer {
  readonly status: number;
  /** The start of the answer's body, for the log when the CMS refuses (TALQ errors are JSON arrays). */
  readonly body: string;
}

/** POSTs a TALQ request to the CMS; resolves with its answer, rejects when there is none (network, timeout). */
export function postToCms(endpoint: CmsEndpoint, path: string, query: Record<string, string>, body: unknown): Promise<CmsAnswer> {
  const base = endpoint.baseUrl.endsWith('/') ? endpoint.baseUrl : `${endpoint.baseUrl}/`;
  const url = new URL(path.replace(/^\//, ''), base);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const headers = {
    'content-type': 'application/json',
    'content-length': String(payload.length),
    'talq-api-version': talqApiVersion,
    ...(endpoint.token === undefined ? {} : { authorization: `Bearer ${endpoint.token}` }),
  };
  const timeout = endpoint.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const onAnswer = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < 4096) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 4096) }));
      res.on('error', reject);
    };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { method: 'POST', headers, timeout, ...(endpoint.ca ? { ca: endpoint.ca } : {}), ...(endpoint.cert ? { cert: endpoint.cert } : {}), ...(endpoint.key ? { key: endpoint.key } : {}) }, onAnswer)
        : httpRequest(url, { method: 'POST', headers, timeout }, onAnswer);
    req.on('timeout', () => req.destroy(new Error(`no answer from the CMS within ${timeout} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
