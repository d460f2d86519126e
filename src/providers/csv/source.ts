// Where a bundle's files come from: a folder, or a .zip read entry by entry (yauzl reads the central
// directory, then inflates one entry at a time as a stream; the archive is never loaded whole). File
// names are matched ignoring case, and a zip whose files sit in one folder (`export/users.csv`, as
// zipping a folder produces) works too.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import yauzl from "yauzl";

export interface BundleSource {
  /** The bundle's path, for messages. */
  readonly location: string;
  /** The file's stream, or undefined when the bundle has no such file. */
  open(file: string): Promise<Readable | undefined>;
  close(): Promise<void>;
}

export async function openBundle(location: string): Promise<BundleSource> {
  let info;
  try {
    info = await stat(location);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT" ? `${location} does not exist` : `cannot read ${location}: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
  return info.isDirectory() ? openFolder(location) : openZip(location);
}

async function openFolder(folder: string): Promise<BundleSource> {
  const names = new Map((await readdir(folder)).map((name) => [name.toLowerCase(), name]));
  return {
    location: folder,
    async open(file) {
      const name = names.get(file.toLowerCase());
      return name === undefined ? undefined : createReadStream(path.join(folder, name));
    },
    async close() {},
  };
}

function isJunk(fileName: string): boolean {
  return (
    fileName.endsWith("/") ||
    fileName.startsWith("__MACOSX/") ||
    path.posix.basename(fileName).startsWith("._")
  );
}

async function openZip(file: string): Promise<BundleSource> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false }, (error, zipfile) =>
      error
        ? reject(new Error(`${file} is not a readable zip: ${error.message}`, { cause: error }))
        : resolve(zipfile),
    ),
  );
  let entries: yauzl.Entry[];
  try {
    entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
      const found: yauzl.Entry[] = [];
      zip.on("entry", (entry: yauzl.Entry) => {
        if (!isJunk(entry.fileName)) {
          found.push(entry);
        }
        zip.readEntry();
      });
      zip.on("end", () => resolve(found));
      zip.on("error", reject);
      zip.readEntry();
    });
  } catch (error) {
    zip.close();
    throw new Error(`${file} is not a readable zip: ${(error as Error).message}`, { cause: error });
  }
  // The bundle's root is the folder of its shallowest manifest.csv.
  const manifests = entries
    .filter((e) => path.posix.basename(e.fileName).toLowerCase() === "manifest.csv")
    .sort((a, b) => a.fileName.split("/").length - b.fileName.split("/").length);
  const root = manifests[0] ? path.posix.dirname(manifests[0].fileName) : ".";
  const byName = new Map<string, yauzl.Entry>();
  for (const entry of entries) {
    if (path.posix.dirname(entry.fileName) === root) {
      byName.set(path.posix.basename(entry.fileName).toLowerCase(), entry);
    }
  }
  return {
    location: file,
    async open(name) {
      const entry = byName.get(name.toLowerCase());
      if (!entry) {
        return undefined;
      }
      return new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (error, stream) => (error ? reject(error) : resolve(stream))),
      );
    },
    async close() {
      zip.close();
    },
  };
}
