/**
 * Building the page: elements from data, text only through `textContent`
 * (never HTML), so proposal text, Matrix ids and anything else that came
 * from someone cannot become markup or script.
 */
type Child = Node | string | number | false | null | undefined;
type Attrs = Record<string, string | boolean | ((e: Event) => void) | undefined>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return el;
}

/** Replaces the children of `el`. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function shortAddress(a: string): string {
  return /^0x[0-9a-fA-F]{40}$/.test(a) ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
}

export function formatTime(unix: number): string {
  return new Date(unix * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function formatDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  for (const [unit, n] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const)
    if (seconds % n === 0) return `${seconds / n}${unit}`;
  return `${seconds}s`;
}

export function percent(bps: number): string {
  return `${Number((bps / 100).toFixed(2))}%`;
}

/** "0x12…abcd (@alice:server)" for a member who shows their id. */
export function who(address: string, userId?: string): HTMLElement {
  return h("span", { class: "who", title: address }, h("code", {}, shortAddress(address)), userId ? h("span", { class: "uid" }, ` ${userId}`) : null);
}
