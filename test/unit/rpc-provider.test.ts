import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { refusedForSize, RPC_OPTIONS, RPC_THROTTLE_ATTEMPTS, RpcProvider } from "../../src/governance/client.ts";
import { humanChainError } from "../../src/governance/errors.ts";

/** A JSON-RPC endpoint whose answer to each method is given here (bytes as they go on the wire). */
const answers: Record<string, (id: unknown) => Buffer | { status: number; body: string }> = {
  eth_blockNumber: (id) => Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, result: "0x2a" })),
  // A string outside ASCII, in UTF-8 on the wire.
  web3_clientVersion: (id) => Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, result: "nœud ⛓ 🦊" })),
  eth_chainId: (id) => Buffer.from(JSON.stringify({ jsonrpc: "2.0", id, result: "0x7a69" })),
};
let server: Server;
let url: string;
let mode: "json" | "not utf-8" | "not json" | "500" | "429" = "json";
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      requests++;
      if (mode === "500") return res.writeHead(500).end("down");
      if (mode === "429") return res.writeHead(429).end("slow down");
      if (mode === "not json") return res.writeHead(200, { "content-type": "application/json" }).end("<html>");
      if (mode === "not utf-8") return res.writeHead(200, { "content-type": "application/json" }).end(Buffer.from([0x22, 0xff, 0x22]));
      const payload = JSON.parse(body) as { id: unknown; method: string } | { id: unknown; method: string }[];
      const one = (p: { id: unknown; method: string }) => answers[p.method]!(p.id) as Buffer;
      const out = Array.isArray(payload)
        ? Buffer.concat([Buffer.from("["), ...payload.flatMap((p, i) => (i ? [Buffer.from(","), one(p)] : [one(p)])), Buffer.from("]")])
        : one(payload);
      res.writeHead(200, { "content-type": "application/json" }).end(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server.close();
});

describe("the bot's JSON-RPC provider", () => {
  it("reads answers as ethers' provider does, a batch of requests made together in one HTTP request", async () => {
    mode = "json";
    const p = new RpcProvider(url, 31337, { staticNetwork: true, ...RPC_OPTIONS });
    const before = requests;
    expect(await Promise.all([p.getBlockNumber(), p.send("web3_clientVersion", [])])).toEqual([42, "nœud ⛓ 🦊"]);
    expect(requests - before).toBe(1);
    expect(await p.send("web3_clientVersion", [])).toBe("nœud ⛓ 🦊");
    p.destroy();
  });

  it("refuses an answer that is not JSON in UTF-8, and an HTTP error, as ethers does", async () => {
    const p = new RpcProvider(url, 31337, { staticNetwork: true, ...RPC_OPTIONS });
    for (const m of ["not json", "not utf-8"] as const) {
      mode = m;
      await expect(p.getBlockNumber()).rejects.toThrow(/response body is not valid JSON/);
    }
    mode = "500";
    await expect(p.getBlockNumber()).rejects.toThrow(/bad response|500/);
    p.destroy();
  });

  it("gives up at a rate limit after a few attempts, not after minutes", async () => {
    const p = new RpcProvider(url, 31337, { staticNetwork: true, ...RPC_OPTIONS });
    mode = "429";
    const before = requests;
    const refused = await p.getBlockNumber().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(requests - before).toBe(RPC_THROTTLE_ATTEMPTS);
    // Said as the rate limit it is (ethers' own error after its retries says 599).
    expect(humanChainError(refused).human).toBe("The chain cannot be reached right now (its endpoint answered HTTP 429); try again later.");
    p.destroy();
  }, 15_000);
});

describe("a refused eth_getLogs", () => {
  it("is asked for in smaller pieces only when it was refused for its size", () => {
    expect(refusedForSize(new Error("query returned more than 10000 results"))).toBe(true);
    expect(refusedForSize(Object.assign(new Error("bad response"), { code: "SERVER_ERROR", info: { responseStatus: "413 Payload Too Large" } }))).toBe(true);
    expect(refusedForSize(Object.assign(new Error("bad response"), { code: "SERVER_ERROR", info: { responseStatus: "429 Too Many Requests" } }))).toBe(false);
    expect(refusedForSize(Object.assign(new Error("bad response"), { code: "SERVER_ERROR", info: { responseStatus: "503 Service Unavailable" } }))).toBe(false);
    expect(refusedForSize(Object.assign(new Error("exceeded maximum retry limit"), { code: "SERVER_ERROR", info: { responseStatus: "599" } }))).toBe(false);
    expect(refusedForSize(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "ECONNREFUSED" }))).toBe(false);
    expect(refusedForSize(Object.assign(new Error("request timeout"), { code: "TIMEOUT" }))).toBe(false);
  });
});
