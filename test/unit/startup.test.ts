import { afterEach, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { backoff, probeChain, StartupProblem, untilDone, waitForChain } from "../../src/startup.ts";
import { freePort } from "../../scripts/chain.ts";

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A JSON-RPC endpoint on loopback answering with `handle`; returns its URL (with an API key in the path). */
async function endpoint(handle: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  let n = 0;
  server = createServer((req, res) => handle(n++, req, res));
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
  const a = server.address();
  return `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}/v3/KEY1234`;
}

const chainId = (res: ServerResponse, id = "0x7a69") => res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: id }));

describe("waiting for the chain", () => {
  it("waits out an endpoint that fails, saying so without its API key, and returns its chain id", async () => {
    const url = await endpoint((n, _req, res) => (n < 2 ? ((res.statusCode = 503), res.end("busy")) : chainId(res)));
    const warned: string[] = [];
    const waits: number[] = [];
    expect(await waitForChain(url, 31337, { warn: (l) => warned.push(l) }, async (ms) => waits.push(ms))).toBe(31337);
    expect(waits).toEqual([500, 1000]);
    expect(warned[0]).toMatch(/^chain: waiting for http:\/\/127\.0\.0\.1:\d+\/… \(HTTP 503\); retrying in 500 ms$/);
    expect(warned.join()).not.toContain("KEY1234");
  });

  it("stops with one line naming both chain ids when they differ", async () => {
    const url = await endpoint((_n, _req, res) => chainId(res, "0x1"));
    await expect(waitForChain(url, 100, { warn: () => {} })).rejects.toThrow(
      new StartupProblem(
        `chain: chain.chainId is 100, but ${url.replace(/\/v3.*/, "")}/… serves chain 1: point chain.rpcUrl at chain 100, or set chain.chainId to 1`,
      ),
    );
  });

  it("stops when the endpoint refuses the request (an API key it does not take)", async () => {
    const url = await endpoint((_n, _req, res) => ((res.statusCode = 401), res.end()));
    await expect(waitForChain(url, undefined, { warn: () => {} })).rejects.toThrow(
      /HTTP 401: the endpoint refused the request; check the API key in chain\.rpcUrl/,
    );
  });

  it("tells a connection refused, and an answer that is not JSON-RPC", async () => {
    expect(await probeChain(`http://127.0.0.1:${await freePort()}`)).toEqual({ ok: false, fatal: false, reason: "ECONNREFUSED" });
    const url = await endpoint((_n, _req, res) => res.end("<html>"));
    expect(await probeChain(url)).toEqual({ ok: false, fatal: false, reason: "not a JSON-RPC answer" });
  });
});

describe("retrying start-up steps", () => {
  it("retries with backoff or the wait asked for, and stops on a problem", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await untilDone(
      "matrix: not reachable",
      async () => {
        calls++;
        if (calls === 1) throw new Error("fetch failed");
        if (calls === 2) throw Object.assign(new Error("slow down"), { retryAfterMs: 1234 });
        return "ok";
      },
      { warn: () => {} },
      (e) => ((e as { retryAfterMs?: number }).retryAfterMs !== undefined ? { retryAfterMs: (e as { retryAfterMs: number }).retryAfterMs } : undefined),
      async (ms) => waits.push(ms),
    );
    expect([result, waits]).toEqual(["ok", [500, 1234]]);
    await expect(
      untilDone(
        "x",
        async () => Promise.reject(new Error("no")),
        { warn: () => {} },
        () => new StartupProblem("matrix: refused"),
      ),
    ).rejects.toThrow("matrix: refused");
    expect([backoff(0), backoff(3), backoff(20)]).toEqual([500, 4000, 30_000]);
  });
});
