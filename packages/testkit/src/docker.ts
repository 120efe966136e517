import { existsSync } from 'node:fs';

/** A Docker engine is worth asking testcontainers for only when one could be there; asking costs seconds. */
export function dockerMayAnswer(): boolean {
  return Boolean(process.env['DOCKER_HOST']) || existsSync('/var/run/docker.sock');
}

export async function dockerAnswers(): Promise<boolean> {
  if (!dockerMayAnswer()) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}
