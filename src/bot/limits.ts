/**
 * Rate limits on commands, per sender and per room (rate-limiter-flexible,
 * in memory: a restart forgets them). The first command over a limit in a
 * window is answered "slow down: …"; the next ones get no answer at all, so
 * a flood costs the bot nothing and never delays anyone else's answers.
 */
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";

export interface LimitSettings {
  /** commands one account may send per minute, all rooms together */
  perSenderPerMinute: number;
  /** commands one room may send per minute, all senders together */
  perRoomPerMinute: number;
}

export type LimitVerdict = { ok: true } | { ok: false; answer?: string };

export class CommandLimits {
  private readonly sender: RateLimiterMemory;
  private readonly room: RateLimiterMemory;
  private readonly s: LimitSettings;

  constructor(s: LimitSettings) {
    this.s = s;
    this.sender = new RateLimiterMemory({ points: s.perSenderPerMinute, duration: 60 });
    this.room = new RateLimiterMemory({ points: s.perRoomPerMinute, duration: 60 });
  }

  /** Counts one command of `sender` in `roomId`; says whether to run it, and what to answer if not. */
  async take(roomId: string, sender: string): Promise<LimitVerdict> {
    const mine = await this.consume(this.sender, sender, this.s.perSenderPerMinute);
    if (mine !== undefined) {
      return {
        ok: false,
        ...(mine.first
          ? { answer: `Slow down: you sent more than ${this.s.perSenderPerMinute} commands in a minute. I will answer you again in ${mine.seconds} s.` }
          : {}),
      };
    }
    const room = await this.consume(this.room, roomId, this.s.perRoomPerMinute);
    if (room !== undefined) {
      return {
        ok: false,
        ...(room.first
          ? { answer: `Slow down: this room sent more than ${this.s.perRoomPerMinute} commands in a minute. I will answer here again in ${room.seconds} s.` }
          : {}),
      };
    }
    return { ok: true };
  }

  /** undefined when under the limit; else whether this is the first refusal of the window. */
  private async consume(limiter: RateLimiterMemory, key: string, points: number): Promise<{ first: boolean; seconds: number } | undefined> {
    try {
      await limiter.consume(key);
      return undefined;
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) throw e;
      return { first: e.consumedPoints === points + 1, seconds: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) };
    }
  }
}
