/**
 * New blocks as soon as the node has them: `eth_subscribe("newHeads")` over
 * a WebSocket, where the endpoint offers one. It only hurries the bridge:
 * polling goes on beside it, so a subscription that fails or drops loses
 * nothing. Reconnects with backoff; never throws.
 */
export interface HeadWatch {
  stop(): void;
}

export function watchHeads(url: string, onHead: (block: number) => void, log: (line: string) => void, shown = "the WebSocket endpoint"): HeadWatch {
  let socket: WebSocket | undefined;
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const connect = () => {
    if (stopped) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      log(`chain: new blocks from ${shown}: ${(e as Error).message}; polling instead`);
      return;
    }
    socket = ws;
    ws.addEventListener("open", () => {
      attempt = 0;
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    });
    ws.addEventListener("message", (m) => {
      try {
        const msg = JSON.parse(String(m.data)) as {
          id?: number;
          result?: unknown;
          method?: string;
          params?: { result?: { number?: string } };
          error?: { message?: string };
        };
        if (msg.error) log(`chain: ${shown} refused newHeads (${msg.error.message ?? "error"}); polling only`);
        if (msg.id === 1 && msg.result !== undefined) log(`chain: new blocks announced by ${shown}`);
        const n = msg.method === "eth_subscription" ? msg.params?.result?.number : undefined;
        if (n !== undefined) onHead(Number(n));
      } catch {
        /* not JSON-RPC: ignored */
      }
    });
    ws.addEventListener("close", () => {
      if (stopped) return;
      const wait = Math.min(30_000, 500 * 2 ** attempt++);
      timer = setTimeout(connect, wait);
    });
    ws.addEventListener("error", () => {
      /* followed by close */
    });
  };
  connect();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close();
    },
  };
}
