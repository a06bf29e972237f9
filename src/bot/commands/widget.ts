/**
 * `!widget` (and the end of `!dao create`): the group's web page in the
 * room, as a widget (an `im.vector.modular.widgets` state event, as Element
 * reads it). Element opens it with the room and the widget id in its URL,
 * and the page asks the client for an OpenID token to learn who is looking.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { Refusal, type Answer, type Ctx } from "../context.ts";
import { answer } from "../../text/format.ts";
import { requireBinding } from "../guards.ts";

export const WIDGET_EVENT = "im.vector.modular.widgets";

/** The widget's state key: one per room and page address, so a new address gets a new widget. */
export function widgetId(webUrl: string): string {
  return `conclave_${keccak256(toUtf8Bytes(webUrl)).slice(2, 14)}`;
}

/**
 * The widget's state event content. The group's address is in the URL so
 * that the page shows the group's public record even when the client does
 * not prove who the user is; who the user is, and the room's group for
 * them, come from the bot only (the OpenID check), never from the URL.
 */
export function widgetContent(webUrl: string, creator: string, group?: string): Record<string, unknown> {
  const id = widgetId(webUrl);
  return {
    type: "m.custom",
    url: `${webUrl}/widget?room=$matrix_room_id&widgetId=$matrix_widget_id${group ? `&group=${group}` : ""}`,
    name: "Conclave",
    data: { title: "The group's proposals, votes and members" },
    id,
    creatorUserId: creator,
    waitForIframeLoad: true,
  };
}

/** Puts the page in the room; the answer says so, or why not. */
export async function addWidget(ctx: Ctx): Promise<string> {
  const url = ctx.settings.webUrl;
  if (!url || !ctx.rooms.putState) return "";
  try {
    const b = await ctx.store.getBinding(ctx.roomId);
    await ctx.rooms.putState(ctx.roomId, WIDGET_EVENT, widgetId(url), widgetContent(url, ctx.settings.botUserId, b?.group));
    return `The group's page is in the room as a widget (Element: room info, Extensions), and at ${url}.`;
  } catch (e) {
    return `I could not add the page as a widget (${(e as Error).message.slice(0, 80)}): give me the power to change room settings and send ${ctx.settings.prefix}widget.`;
  }
}

export async function widget(ctx: Ctx): Promise<Answer> {
  const b = await requireBinding(ctx);
  if (!ctx.settings.webUrl) throw new Refusal("This bot has no web page (its operator has not set web.publicUrl).");
  return answer("The group's page", [await addWidget(ctx), `Record of ${b.group}: ${ctx.settings.webUrl}/g/${b.group}`]);
}
