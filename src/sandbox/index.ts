// The sandbox: a seeded OneRoster 1.1 district served over HTTP with switchable faults.
export { generateDistrict, DISTRICT_DEFAULTS, EMAIL_DOMAIN } from "./district.js";
export type { DistrictOptions } from "./district.js";
export { District } from "./roster.js";
export { startSandbox, SANDBOX_DEFAULTS } from "./server.js";
export type { Sandbox, SandboxOptions, SandboxStats } from "./server.js";
export type { SandboxFaults } from "./faults.js";
export type { SandboxModes } from "./modes.js";
export { applyChange, MutationError } from "./mutate.js";
export type { MutationResult, SandboxChange } from "./mutate.js";
export { createRandom } from "./random.js";
export type { Random } from "./random.js";
export { API_PREFIX } from "./records.js";
export { V1P2_PREFIX } from "./oneroster12.js";
export type { OneRoster12SandboxOptions } from "./oneroster12.js";
export type * from "./records.js";
export { writeCsvBundle, csvField, csvLine, CSV_ZIP_NAME } from "./csv.js";
export type { CsvBundleOptions } from "./csv.js";
export type { CsvShape } from "./csv-shapes.js";
