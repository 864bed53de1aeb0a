import { createMemoryStore } from "../../../src/store/memory-store.js";
import { storeConformance } from "./conformance.js";

storeConformance("memory", async () => {
  const store = createMemoryStore();
  return { store, cleanup: () => store.close() };
});
