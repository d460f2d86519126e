// `${VAR}` and `${VAR:-default}` in sync.config.yaml (SPEC §2).
//
// Substitution happens after the YAML is parsed, in scalar values, so a secret containing YAML
// syntax cannot change the document's structure. But a reference is itself YAML syntax in some
// places: `{ clientId: ${ID} }` is a flow mapping whose `{`/`}` the reference would close, and a
// default such as `${URL:-http://h/#x}` holds `:` and `#`. So before parsing, each reference in the
// raw text is replaced by a placeholder of the same length made of characters that are plain text
// wherever they stand (private-use code points): the YAML parses as if the value were a plain word,
// every position in an error is still that of the admin's file, and the placeholders are swapped
// for values in the parsed scalars.
import { visit, type Document, type Node, type Scalar } from "yaml";

export type Env = Record<string, string | undefined>;

export interface Reference {
  name: string;
  /** The text after `:-`, as written (`{`/`}` in pairs allowed), or undefined without one. */
  fallback: string | undefined;
  /** Offsets of `${` and after the closing `}` in the file. */
  start: number;
  end: number;
}

/** Where a piece of a substituted value came from: the file's own text, or a reference. */
export type Piece =
  { from: "file"; text: string } | { from: "env" | "default"; text: string; reference: Reference };

const MARK = "\uE000";
const PAD = "\uE001";
const placeholderPattern = /\uE000([0-9a-z]+)\uE001*/g;
const nameStart = /[A-Za-z_]/;
const namePart = /[A-Za-z0-9_]/;

/** Finds every reference in `text` and returns the text with each masked (same length). */
export function maskReferences(text: string): { masked: string; references: Reference[] } {
  if (text.includes(MARK) || text.includes(PAD)) {
    // Would be taken for a placeholder; no config has a reason to hold these code points.
    throw new Error("the file contains the private-use characters U+E000/U+E001, which are reserved");
  }
  const references: Reference[] = [];
  let masked = "";
  let copied = 0;
  for (let at = text.indexOf("${"); at !== -1; at = text.indexOf("${", at + 1)) {
    const reference = referenceAt(text, at);
    if (!reference) {
      continue;
    }
    const placeholder = MARK + references.length.toString(36);
    if (placeholder.length > reference.end - reference.start) {
      throw new Error(`too many \${…} references (more than ${36 ** 3})`);
    }
    masked += text.slice(copied, at) + placeholder.padEnd(reference.end - reference.start, PAD);
    references.push(reference);
    copied = reference.end;
    at = reference.end - 1;
  }
  return { masked: masked + text.slice(copied), references };
}

/** The reference starting at `at` (`${`), or undefined when the text there is not one. */
function referenceAt(text: string, at: number): Reference | undefined {
  let i = at + 2;
  if (!nameStart.test(text[i] ?? "")) {
    return undefined;
  }
  while (namePart.test(text[i] ?? "")) {
    i += 1;
  }
  const name = text.slice(at + 2, i);
  if (text[i] === "}") {
    return { name, fallback: undefined, start: at, end: i + 1 };
  }
  if (!text.startsWith(":-", i)) {
    return undefined;
  }
  const from = i + 2;
  let depth = 0;
  for (let j = from; j < text.length; j += 1) {
    const c = text[j];
    if (c === "\n" || c === "\r") {
      return undefined;
    }
    if (c === "{") {
      depth += 1;
    } else if (c === "}") {
      if (depth === 0) {
        return { name, fallback: text.slice(from, j), start: at, end: j + 1 };
      }
      depth -= 1;
    }
  }
  return undefined;
}

/** A reference whose variable is unset (or empty) and has no default. */
export class MissingVariable extends Error {
  constructor(
    readonly reference: Reference,
    readonly node: Node,
    readonly visitPath: readonly unknown[],
  ) {
    super(`environment variable ${reference.name} is not set`);
  }
}

/**
 * Replaces the placeholders in every scalar of `doc` by the references' values. A plain scalar
 * that is one whole reference takes the type of its value (`${PAGE_SIZE:-100}` is the number 100).
 * Returns the pieces of each substituted scalar (for the plain-text secret check); throws
 * MissingVariable for the first unset variable without a default.
 */
export function substitute(doc: Document, references: readonly Reference[], env: Env): Map<Scalar, Piece[]> {
  const origins = new Map<Scalar, Piece[]>();
  if (references.length === 0) {
    return origins;
  }
  visit(doc, {
    Scalar(_key, node, visitPath) {
      if (typeof node.value !== "string" || !node.value.includes(MARK)) {
        return;
      }
      const pieces: Piece[] = [];
      let last = 0;
      for (const match of node.value.matchAll(placeholderPattern)) {
        const reference = references[parseInt(match[1]!, 36)];
        if (!reference) {
          continue;
        }
        if (match.index > last) {
          pieces.push({ from: "file", text: node.value.slice(last, match.index) });
        }
        const value = env[reference.name];
        if (value !== undefined && value !== "") {
          pieces.push({ from: "env", text: value, reference });
        } else if (reference.fallback !== undefined) {
          pieces.push({ from: "default", text: reference.fallback, reference });
        } else {
          throw new MissingVariable(reference, node, visitPath);
        }
        last = match.index + match[0].length;
      }
      if (last < node.value.length) {
        pieces.push({ from: "file", text: node.value.slice(last) });
      }
      const text = pieces.map((p) => p.text).join("");
      const whole = pieces.length === 1 && pieces[0]!.from !== "file" && node.type === "PLAIN";
      node.value = whole ? plainValue(text) : text;
      origins.set(node, pieces);
    },
  });
  return origins;
}

/** Puts the references back into text taken from the masked file (an error message's excerpt). */
export function unmask(text: string, references: readonly Reference[], original: string): string {
  return text.replace(placeholderPattern, (m, index: string) => {
    const reference = references[parseInt(index, 36)];
    return reference ? original.slice(reference.start, reference.end) : m;
  });
}

/** The value a plain scalar would have had: a number or boolean when the text is exactly one, so
 * that `007` (a PIN, a client id) stays the string it was. */
function plainValue(text: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(text) && String(Number(text)) === text) {
    return Number(text);
  }
  if (text === "true" || text === "false") {
    return text === "true";
  }
  return text;
}
