// A webhook receiver on 127.0.0.1 that verifies the signature of each raw body before parsing it,
// as a provisioning service would. `answer` decides each response; `stop()`/`start()` take the
// port down and up again (the same port), for a receiver that is down and then back.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifySignature } from "../../src/events/sinks/webhook.js";
import type { RosterEvent } from "../../src/sync/events.js";

export interface Received {
  id: string;
  eventIdHeader: string | undefined;
  signatureValid: boolean;
  contentType: string | undefined;
  body: RosterEvent;
  status: number;
}

export type Reply = { status: number; headers?: Record<string, string>; body?: string } | "hang";

/** Decides the response to an event; it may look around first (e.g. at the database) before answering. */
export type Answer = (event: RosterEvent) => Reply | Promise<Reply>;

export interface WebhookReceiver {
  /** http://127.0.0.1:PORT/hooks/roster */
  url: string;
  received: Received[];
  /** The events answered 2xx, in arrival order. */
  accepted: () => string[];
  setAnswer: (next: Answer) => void;
  stop: () => Promise<void>;
  start: () => Promise<void>;
}

export async function startReceiver(secret: string, answer: Answer): Promise<WebhookReceiver> {
  let current = answer;
  const received: Received[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => void reply());
    const reply = async (): Promise<void> => {
      const raw = Buffer.concat(chunks);
      const signatureValid = verifySignature(
        secret,
        raw,
        req.headers[SIGNATURE_HEADER] as string | undefined,
      );
      const body = JSON.parse(raw.toString("utf8")) as RosterEvent;
      // Recorded on arrival (status 0 until answered), so an answer that looks around sees it.
      const entry: Received = {
        id: body.id,
        eventIdHeader: req.headers[EVENT_ID_HEADER] as string | undefined,
        signatureValid,
        contentType: req.headers["content-type"],
        body,
        status: 0,
      };
      received.push(entry);
      let answer: Reply;
      try {
        answer = await current(body);
      } catch (error) {
        answer = { status: 500, body: (error as Error).message };
      }
      entry.status = answer === "hang" ? 0 : answer.status;
      if (answer === "hang" || res.destroyed) {
        return;
      }
      res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
      res.end(answer.body ?? "");
    };
  };
  let server: Server = createServer(handle);
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}/hooks/roster`,
    received,
    accepted: () => received.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.id),
    setAnswer: (next) => {
      current = next;
    },
    stop,
    start: async () => {
      server = createServer(handle);
      await listen(port);
    },
  };
}

/** Answers 200 to everything. */
export const ok: Answer = () => ({ status: 200, body: "ok" });
