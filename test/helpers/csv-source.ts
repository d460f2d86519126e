// An in-memory CSV bundle for the CSV connector's unit tests.
import { Readable } from "node:stream";
import type { BundleSource } from "../../src/providers/csv/source.js";

/** A bundle held in memory, each file delivered in small chunks (to cross chunk boundaries). */
export function memorySource(files: Record<string, string>, chunk = 7): BundleSource {
  return {
    location: "memory",
    async open(name) {
      const text = files[name];
      if (text === undefined) {
        return undefined;
      }
      const bytes = Buffer.from(text, "utf8");
      const parts: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += chunk) {
        parts.push(bytes.subarray(i, i + chunk));
      }
      return Readable.from(parts);
    },
    async close() {},
  };
}
