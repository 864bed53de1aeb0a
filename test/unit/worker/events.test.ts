import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { adds, closeWithoutLeaks, collect, testEngine } from "../../support/engine.js";

describe("events (HyperBEAM's ?event calls)", () => {
  it("logs each of HyperBEAM's worker events at debug with its group and slot", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const t = testEngine({}, { logger });
    const p = await t.spawnCounter();
    await t.engine.schedule(p, adds(1));
    const waiting = t.engine.await(p, 2n);
    await collect(await t.engine.compute(p, undefined));
    await t.engine.schedule(p, adds(1));
    await waiting;
    await t.engine.stop(p);
    const events = new Map(lines.map((l) => [l["event"], l]));
    for (const name of [
      "waiting_for_req",
      "work_received",
      "work_done",
      "awaiting_compute",
      "notified_of_resolution",
      "finished_notifying",
      "stopping",
    ]) {
      expect(events.get(name), name).toMatchObject({ level: 20, group: p });
    }
    expect(events.get("work_received")).toHaveProperty("slot");
    expect(lines.find((l) => l["event"] === "finished_notifying" && l["slot"] === "2")).toMatchObject({ listeners: 1 });
    await closeWithoutLeaks(t);
  });
});
