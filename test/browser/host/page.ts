/**
 * A widget host for the browser tests, standing in for Element (not
 * available offline): it frames the bot's widget as Element does (the URL
 * of the room's `im.vector.modular.widgets` event, templated with the room
 * and widget ids, `widgetId` and `parentUrl` added) and answers the
 * widget's requests with matrix-widget-api's own `ClientWidgetApi`. Its
 * driver approves the capabilities the widget asks for and answers the
 * OpenID request with what the test's host server says: a real token
 * Synapse issued, a refusal, or (a hostile host) anything else.
 *
 * What it did is listed in `#host-log`, one item per step, for the tests.
 */
import {
  ClientWidgetApi,
  OpenIDRequestState,
  Widget,
  WidgetDriver,
  type Capability,
  type IOpenIDUpdate,
  type IWidget,
  type SimpleObservable,
} from "matrix-widget-api";

/** The case the test set up (served by the host server, see server.ts). */
interface HostCase {
  widget: IWidget;
  roomId: string;
  userId: string;
  /** query parameters a hostile host adds to (or replaces in) the widget's URL */
  query: Record<string, string>;
  /** the host answers the OpenID request with an error of this text instead of a state */
  openidError?: string;
  /** a rival frame beside the widget pushes a token of its own at it */
  rival: boolean;
}

type OpenIdAnswer =
  { state: "allowed"; token: { access_token: string; expires_in: number; matrix_server_name: string; token_type: string } } | { state: "blocked" };

const id = new URLSearchParams(location.search).get("case") ?? "";
const log = document.getElementById("host-log")!;

function note(kind: string, text: string): void {
  const li = document.createElement("li");
  li.dataset.kind = kind;
  li.textContent = `${kind}: ${text}`;
  log.append(li);
}

class TestDriver extends WidgetDriver {
  override async validateCapabilities(requested: Set<Capability>): Promise<Set<Capability>> {
    note("capabilities", requested.size ? [...requested].join(", ") : "none asked");
    return requested;
  }

  override askOpenID(observer: SimpleObservable<IOpenIDUpdate>): void {
    // As Element does the first time a widget asks: the user is asked, then the answer follows.
    observer.update({ state: OpenIDRequestState.PendingUserConfirmation });
    void fetch(`/case/${id}/openid`, { method: "POST" })
      .then((r) => r.json() as Promise<OpenIdAnswer>)
      .then((a) => {
        note("openid", a.state);
        observer.update(a.state === "allowed" ? { state: OpenIDRequestState.Allowed, token: a.token } : { state: OpenIDRequestState.Blocked });
      })
      .catch((e: unknown) => {
        note("openid", `failed: ${(e as Error).message}`);
        observer.update({ state: OpenIDRequestState.Blocked });
      });
  }
}

async function main(): Promise<void> {
  const c = (await (await fetch(`/case/${id}`)).json()) as HostCase;
  const widget = new Widget(c.widget);
  const url = new URL(widget.getCompleteUrl({ widgetRoomId: c.roomId, currentUserId: c.userId }));
  // Element's additions to a framed widget's URL.
  url.searchParams.set("widgetId", widget.id);
  url.searchParams.set("parentUrl", location.href.split("#", 1)[0]!);
  for (const [k, v] of Object.entries(c.query)) url.searchParams.set(k, v);
  note("frame", url.href);

  const iframe = document.createElement("iframe");
  iframe.id = "widget";
  iframe.title = widget.name ?? "widget";
  iframe.src = url.href;
  document.getElementById("frame")!.append(iframe);
  // Made before the frame loads: the API begins the capabilities exchange at its load.
  const api = new ClientWidgetApi(widget, iframe, new TestDriver());
  if (c.rival) {
    // Another widget of the same client: the widget's frame is frames[0] to it.
    const rival = document.createElement("iframe");
    rival.id = "rival";
    rival.src = `/rival?case=${id}`;
    document.getElementById("frame")!.append(rival);
  }
  api.on("ready", () => note("ready", widget.id));
  if (c.openidError !== undefined) {
    const message = c.openidError;
    // A host that answers the OpenID request with an error text of its own.
    api.on("action:get_openid", (ev: CustomEvent<{ action: string; requestId: string; widgetId: string; api: string; data: object }>) => {
      ev.preventDefault();
      note("openid", "error");
      api.transport.reply(ev.detail as never, { error: { message } });
    });
  }
}

void main().catch((e: unknown) => note("failed", (e as Error).message));
