// A strict parser of the Prometheus text exposition format (version 0.0.4), for checking /metrics.
// Throws, naming the line, on anything a Prometheus server would reject or that breaks the format's
// rules: a sample before its family's TYPE, a family declared twice or split in two, a duplicate
// series, a malformed label or value, histogram buckets out of order or disagreeing with _count.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<Family["type"], string[]> = {
  counter: ["", "_total", "_created"],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  summary: ["", "_sum", "_count", "_created"],
};

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: Family | undefined;
  const lines = text.split("\n");
  if (lines[lines.length - 1] !== "") {
    throw new Error("the exposition must end with a newline");
  }
  lines.forEach((line, i) => {
    const fail = (why: string): never => {
      throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(line)}`);
    };
    if (line === "") {
      return;
    }
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name)) {
        fail("bad metric name");
      }
      if (current && current.name !== name) {
        closed.add(current.name);
      }
      if (closed.has(name)) {
        fail(`family ${name} appears twice`);
      }
      let family = families.get(name);
      if (kind === "TYPE") {
        if (!rest || !TYPES.has(rest)) {
          fail("bad TYPE");
        }
        if (family?.samples.length) {
          fail("TYPE after samples");
        }
        if (family && family.type !== "untyped") {
          fail("second TYPE");
        }
        family = { ...(family ?? { name, samples: [] }), type: rest as Family["type"] };
      } else {
        if (family?.help !== undefined) {
          fail("second HELP");
        }
        family = { ...(family ?? { name, samples: [], type: "untyped" }), help: rest ?? "" };
      }
      families.set(name, family);
      current = family;
      return;
    }
    if (line.startsWith("#")) {
      return; // a comment
    }
    const sample = parseSample(line, fail);
    const family = current;
    if (!family || !SUFFIXES[family.type].some((s) => family.name + s === sample.name)) {
      fail(`sample outside its family's block (TYPE/HELP must come first)`);
    }
    const key = `${sample.name}{${Object.entries(sample.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`;
    if (series.has(key)) {
      fail("duplicate series");
    }
    series.add(key);
    family!.samples.push(sample);
  });
  for (const family of families.values()) {
    if (family.type === "histogram") {
      checkHistogram(family);
    }
  }
  return families;
}

function parseSample(line: string, fail: (why: string) => never): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!head) {
    fail("bad sample name");
  }
  const name = head![1]!;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    for (let guard = 0; guard < 1000; guard += 1) {
      if (rest.startsWith("}")) {
        rest = rest.slice(1);
        break;
      }
      const m = /^([^=\s]+)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest);
      if (!m || !LABEL_NAME.test(m[1]!)) {
        fail("bad label");
      }
      if (m![1]! in labels) {
        fail(`label ${m![1]} twice`);
      }
      labels[m![1]!] = m![2]!.replace(/\\(["\\n])/g, (_s, c: string) => (c === "n" ? "\n" : c));
      rest = rest.slice(m![0].length);
      if (m![3] === "" && !rest.startsWith("}")) {
        fail("labels not separated by commas");
      }
    }
  }
  const v = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (!v) {
    fail("bad value part");
  }
  const raw = v![1]!;
  const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : raw === "NaN" ? NaN : Number(raw);
  if (Number.isNaN(value) && raw !== "NaN") {
    fail("value is not a number");
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[+-]Inf$|^NaN$/.test(raw)) {
    fail("value is not a float");
  }
  return { name, labels, value };
}

function checkHistogram(family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (s.name.endsWith("_bucket")) {
      if (le === undefined) {
        throw new Error(`${family.name}: a bucket without le`);
      }
      group.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value]);
    } else if (s.name.endsWith("_count")) {
      group.count = s.value;
    }
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    sorted.forEach(([le, n], i) => {
      if (i > 0 && n < sorted[i - 1]![1]) {
        throw new Error(`${family.name}${key}: bucket le=${le} has fewer than the one before`);
      }
    });
    const inf = sorted[sorted.length - 1];
    if (!inf || inf[0] !== Infinity || inf[1] !== g.count) {
      throw new Error(`${family.name}${key}: the +Inf bucket must exist and equal _count`);
    }
  }
}

/** The value of one series (labels matched exactly on the given keys), or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
        return s.value;
      }
    }
  }
  return undefined;
}
