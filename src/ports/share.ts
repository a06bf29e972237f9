/**
 * Several workers on one store share the rooms out (src/ops/workers.ts):
 * what the bridge and the command journal need to know of it. Pure types.
 * Without a share (SQLite: one worker), a worker serves every room.
 */

/** Which rooms this worker serves, and the writes that must stop once it no longer does. */
export interface RoomShare {
  /**
   * Whether this worker may act in the room now: it holds the room's lease,
   * with a margin before the lease could pass to another worker. Checked
   * right before each action, never cached.
   */
  owns(roomId: string): boolean;
  /**
   * Marks an outbox item done, only while this worker still holds the
   * item's room (fenced in the database). Whether this call marked it.
   */
  finishOutbox(item: { id: string; roomId: string }): Promise<boolean>;
}
