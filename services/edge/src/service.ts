import type { ServiceModule } from '@vigil/runtime';
import type { FastifyInstance } from 'fastify';
import { buildEdge } from './app.ts';
import { startEtsiListener } from './etsi/index.ts';

/**
 * The edge as a service: the same module runs alone (`main.ts`) or with every other service (`pnpm start`). It
 * listens twice: the HTTP API, and the ETSI GS QKD 014 API over mutual TLS on its own port.
 */
export const edgeService: ServiceModule = {
  name: 'edge',
  usesDatabase: false,
  async start(context) {
    const { config } = context;
    // First, so a missing certificate or key file stops the start before anything listens.
    const etsi = await startEtsiListener(context);
    let app: FastifyInstance;
    let url: string;
    try {
      app = await buildEdge({ config, bus: context.bus, logger: context.logger, version: context.version });
      url = await app.listen({ host: config.VIGIL_HTTP_HOST, port: config.VIGIL_HTTP_PORT });
    } catch (err) {
      await etsi.close();
      throw err;
    }
    return {
      endpoints: [`${url}  (API docs ${url}/docs, health ${url}/health/ready)`, `${etsi.url}  (ETSI GS QKD 014 key delivery, mutual TLS)`],
      details: async () => ({ etsi: etsi.details() }),
      // Stops accepting connections and waits for requests in flight, which may still need the bus.
      stop: async () => {
        await Promise.all([app.close(), etsi.close()]);
      },
    };
  },
};
