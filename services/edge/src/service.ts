import type { ServiceModule } from '@vigil/runtime';
import { buildEdge } from './app.ts';

/** The edge as a service: the same module runs alone (`main.ts`) or with every other service (`pnpm start`). */
export const edgeService: ServiceModule = {
  name: 'edge',
  usesDatabase: false,
  async start(context) {
    const { config } = context;
    const app = await buildEdge({ config, bus: context.bus, logger: context.logger, version: context.version });
    const url = await app.listen({ host: config.VIGIL_HTTP_HOST, port: config.VIGIL_HTTP_PORT });
    return {
      endpoints: [`${url}  (API docs ${url}/docs, health ${url}/health/ready)`],
      // Stops accepting connections and waits for requests in flight, which may still need the bus.
      stop: () => app.close(),
    };
  },
};
