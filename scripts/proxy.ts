// A TCP proxy on loopback that a test can cut and restore, to take a
// service "away" from the bot and bring it back without losing its state.
import { createServer, connect, type Server, type Socket } from "node:net";
import { createServer as createHttpServer, request } from "node:http";
import { freePort } from "./chain.ts";

export interface Proxy {
  port: number;
  url: string;
  /** refuses new connections and drops open ones */
  cut(): Promise<void>;
  /** accepts connections again, on the same port */
  restore(): Promise<void>;
  /**
   * With `gateway` only: answers every request with this HTTP status (as a
   * provider's gateway does at its rate limit or with a revoked key), or
   * forwards again when undefined.
   */
  refuse(status: number | undefined): void;
  stop(): Promise<void>;
}

/**
 * With `gateway`, the proxy speaks HTTP and forwards every request to the
 * target's root path, as a provider's gateway does with the API key in its
 * URL (Foundry's anvil answers 404 on any other path; Hardhat's node does not care).
 */
export async function startProxy(targetPort: number, o: { gateway?: boolean } = {}): Promise<Proxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let refusing: number | undefined;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = o.gateway
        ? createHttpServer((req, res) => {
            if (refusing !== undefined) {
              req.resume();
              res.writeHead(refusing, { "content-type": "application/json" }).end(JSON.stringify({ error: "refused by the gateway" }));
              return;
            }
            const up = request(
              { host: "127.0.0.1", port: targetPort, path: "/", method: req.method, headers: { ...req.headers, host: `127.0.0.1:${targetPort}` } },
              (r) => {
                res.writeHead(r.statusCode ?? 502, r.headers);
                r.pipe(res);
              },
            );
            up.on("error", () => res.destroy());
            req.pipe(up);
          })
        : createServer((client) => {
            const upstream = connect(targetPort, "127.0.0.1");
            for (const s of [client, upstream]) {
              sockets.add(s);
              s.on("close", () => sockets.delete(s));
              s.on("error", () => s.destroy());
            }
            client.pipe(upstream);
            upstream.pipe(client);
          });
      if (o.gateway)
        server.on("connection", (s: Socket) => {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
        });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (server) server.close(() => resolve());
      else resolve();
      server = undefined;
    });
  await listen();
  const refuse = (status: number | undefined) => {
    if (!o.gateway) throw new Error("refuse() needs a gateway proxy");
    refusing = status;
  };
  return { port, url: `http://127.0.0.1:${port}`, cut: close, restore: listen, refuse, stop: close };
}
