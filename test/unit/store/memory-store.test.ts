import { createMemoryStore } from "../../../src/store/index.js";
import { storeConformance } from "./conformance.js";

storeConformance("memory", async () => {
  const store = createMemoryStore();
  return { store, cleanup: () => store.close() };
});
