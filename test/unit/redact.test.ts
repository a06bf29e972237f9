import { describe, expect, it } from "vitest";
import { redactedUrl, urlRedactor } from "../../src/text/redact.ts";

describe("RPC URLs in logs and answers", () => {
  const url = "https://user:pa55word@rpc.example.org/v3/0123456789abcdef?apikey=s3cr3tkey";
  const redact = urlRedactor([url]);

  it("shows scheme and host only", () => {
    expect(redactedUrl(url)).toBe("https://rpc.example.org/…");
    expect(redactedUrl("http://127.0.0.1:8545")).toBe("http://127.0.0.1:8545");
    expect(redactedUrl("not a url")).toBe("(a URL)");
  });

  it("takes the URL and its secret parts out of any text", () => {
    const line = `chain: ${url} not reachable (request failed: {"url":"${new URL(url).href}"}); path /v3/0123456789abcdef?apikey=s3cr3tkey, key ?apikey=s3cr3tkey, pass pa55word`;
    const out = redact(line);
    for (const secret of ["0123456789abcdef", "s3cr3tkey", "pa55word"]) expect(out).not.toContain(secret);
    expect(out).toContain("https://rpc.example.org/…");
    // Each part alone: the path without its query, one query value, the decoded user part.
    const parts = redact(`GET /v3/0123456789abcdef failed; apikey=s3cr3tkey; info={"requestUrl":"https://rpc.example.org/v3/0123456789abcdef"}`);
    for (const secret of ["0123456789abcdef", "s3cr3tkey"]) expect(parts).not.toContain(secret);
    // A short query value alone is no key: "true" stays in other text.
    expect(urlRedactor(["https://rpc.example.org/v3/0123456789abcdef?archive=true"])("archive=true is off; the flag is true")).toBe(
      "archive=true is off; the flag is true",
    );
    // Other text is left alone.
    expect(redact("nothing secret here")).toBe("nothing secret here");
  });
});
