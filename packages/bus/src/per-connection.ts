import type { Bus } from './connection.ts';

/**
 * One of something per connection, made at its first use and closed with the connection: the appender behind
 * `append`, the reply inbox behind `request`.
 */
export function perConnection<T extends { close(): unknown }>(create: (bus: Bus) => T): (bus: Bus) => T {
  const made = new WeakMap<Bus, T>();
  return (bus) => {
    let one = made.get(bus);
    if (!one) {
      const created = create(bus);
      made.set(bus, created);
      void bus.nc.closed().then(() => created.close());
      one = created;
    }
    return one;
  };
}
