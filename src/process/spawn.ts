/**
 * Spawn (docs/design.md §3): turns a process message (and, for wasm@1.0, module bytes) into a
 * stored process. The process id is the id of the spawn message after its `Module` tag is
 * filled in, so spawning the same definition twice is idempotent. Nothing is stored unless
 * the device accepted the definition.
 */
import { excerpt, invalidArgument, notFound } from "../core/errors.js";
import { isId, messageId, sha256Id, type Message } from "../core/message.js";
import { moduleFromBytes, type ModuleSource } from "../device/device.js";
import type { DeviceRegistry } from "../device/registry.js";
import type { Store, StoredModule } from "../store/store.js";
import { DEVICE_TAG, MODULE_TAG } from "./definition.js";

export interface SpawnDeps {
  store: Store;
  devices: DeviceRegistry;
  now: () => number;
}

/** Validates and stores a process; returns its id. */
export async function spawnProcess(deps: SpawnDeps, spawn: Message, moduleBytes?: Uint8Array): Promise<string> {
  const deviceName = spawn.tags[DEVICE_TAG];
  if (deviceName === undefined || deviceName === "") {
    throw invalidArgument(`the process message needs an ${DEVICE_TAG} tag (one of ${deps.devices.names().join(", ")})`);
  }
  const device = deps.devices.get(deviceName);
  if (device === undefined) {
    throw invalidArgument(`unknown device ${excerpt(deviceName)} (known: ${deps.devices.names().join(", ")})`);
  }
  const tags = { ...spawn.tags };
  const given = moduleBytes !== undefined && moduleBytes.byteLength > 0 ? moduleBytes : undefined;
  let module: ModuleSource | undefined;
  let newModule: StoredModule | undefined;
  if (!device.needsModule) {
    if (given !== undefined) throw invalidArgument(`device ${deviceName} takes no module`);
  } else if (given !== undefined) {
    const id = sha256Id(given);
    const named = tags[MODULE_TAG];
    if (named !== undefined && named !== id) {
      throw invalidArgument(`the Module tag ${excerpt(named)} does not match the module bytes, whose id is ${id}`);
    }
    tags[MODULE_TAG] = id;
    module = moduleFromBytes(given, id);
    newModule = { id, bytes: given };
  } else {
    const named = tags[MODULE_TAG];
    if (named === undefined || named === "")
      throw invalidArgument(`device ${deviceName} needs module bytes or a Module tag`);
    if (!isId(named)) throw invalidArgument(`Module tag ${excerpt(named)} is not a module id`);
    const stored = await deps.store.getModule(named);
    if (stored === undefined) throw notFound(`module ${named} is not stored; send its bytes with Spawn`);
    module = moduleFromBytes(stored, named);
  }
  const filled: Message = { tags, data: spawn.data };
  const processId = messageId(filled);
  await device.validate({ processId, spawn: filled, ...(module ? { module } : {}) });
  await deps.store.createProcess(processId, filled, deps.now(), newModule);
  return processId;
}
