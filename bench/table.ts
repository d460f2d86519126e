// The table `npm run bench` prints, and the issue 4 targets each row is held to.

/** One row of bench/results.json. The first eight keys are the issue's; the rest are extra. */
export interface Result {
  scenario: string;
  requests: number | null;
  minRequests: number | null;
  wallSeconds: number | null;
  boundSeconds: number | null;
  status429: number | null;
  peakRssMb: number | null;
  baselineWallSeconds: number | null;
  /** Which targets apply: fetch rows (and the whole-district one for RSS), store or diff rows. */
  kind: "fetch" | "fetch-rss" | "store" | "diff";
  members?: number;
  baselineRequests?: number;
  baselineStatus429?: number;
  /** Why a row has no figures. */
  note?: string;
  targets?: { target: string; pass: boolean }[];
}

/** The issue's targets for a row, each with whether the row meets it. */
export function targetsOf(r: Result): { target: string; pass: boolean }[] {
  const t: { target: string; pass: boolean }[] = [];
  if (r.kind === "fetch" || r.kind === "fetch-rss") {
    t.push({ target: "wall ≤ 1.15× bound", pass: r.wallSeconds! <= 1.15 * r.boundSeconds! });
    t.push({ target: "0 429s", pass: r.status429 === 0 });
    t.push({ target: "requests ≤ 1.05× min", pass: r.requests! <= 1.05 * r.minRequests! });
  }
  if (r.kind === "fetch-rss") {
    t.push({ target: "peak RSS < 400 MB", pass: r.peakRssMb! < 400 });
  }
  if (r.kind === "store") {
    t.push({ target: "< 5 s", pass: r.wallSeconds !== null && r.wallSeconds < 5 });
  }
  if (r.kind === "diff") {
    t.push({ target: "< 1.5 s", pass: r.wallSeconds !== null && r.wallSeconds < 1.5 });
  }
  return t;
}

const show = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined ? "-" : digits > 0 ? v.toFixed(digits) : String(v);

export function printTable(results: Result[]): string {
  const header = [
    "scenario",
    "requests",
    "min",
    "wall s",
    "bound s",
    "wall/bound",
    "429s",
    "peak RSS MB",
    "baseline wall s",
    "speed-up",
    "targets",
    "pass",
  ];
  const rows = results.map((r) => {
    r.targets = targetsOf(r);
    const ratio = r.wallSeconds !== null && r.boundSeconds ? r.wallSeconds / r.boundSeconds : null;
    const speedUp =
      r.wallSeconds !== null && r.baselineWallSeconds !== null ? r.baselineWallSeconds / r.wallSeconds : null;
    const failed = r.targets.filter((t) => !t.pass).map((t) => t.target);
    return [
      r.scenario,
      show(r.requests),
      show(r.minRequests),
      show(r.wallSeconds, 2),
      show(r.boundSeconds, 2),
      ratio === null ? "-" : `${ratio.toFixed(2)}×`,
      show(r.status429),
      show(r.peakRssMb),
      show(r.baselineWallSeconds, 2),
      speedUp === null ? "-" : `${speedUp.toFixed(1)}×`,
      r.targets.map((t) => t.target).join("; "),
      r.wallSeconds === null
        ? `n/a: ${r.note ?? "not measured"}`
        : `${failed.length === 0 ? "PASS" : `FAIL (${failed.join("; ")})`}${r.note ? ` (${r.note})` : ""}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}
