/**
 * The devices a server offers, by the name a process's `Execution-Device` tag uses.
 */
import type { Device } from "./device.js";

/** Looks devices up by name; closing it closes every device (thread pools). */
export interface DeviceRegistry {
  get(name: string): Device | undefined;
  names(): string[];
  close(): Promise<void>;
}

/** A registry of the given devices; names must be unique. */
export function createDeviceRegistry(devices: Device[]): DeviceRegistry {
  const byName = new Map<string, Device>();
  for (const device of devices) {
    if (byName.has(device.name)) throw new Error(`device ${device.name} registered twice`);
    byName.set(device.name, device);
  }
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()],
    async close() {
      await Promise.all([...byName.values()].map((d) => d.close()));
    },
  };
}
