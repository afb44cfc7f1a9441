// Wake-ups for event-log followers: every append PUBLISHes on its job's channel, and one
// subscriber connection per process fans the message out to that process's followers of the
// job. A blocking XREAD per follower would hold one Redis connection per open stream; pub/sub
// needs one per process, whatever the number of streams. Pub/sub is at-most-once (a message
// sent while the subscriber reconnects is lost), so followers also re-read after a poll
// interval: a lost message delays delivery by at most that, it never loses an event (the
// stream, not the message, is the record).
import type { Redis } from 'ioredis';

interface Channel {
  readonly watches: Set<AppendWatch>;
  /** Resolves once Redis acknowledged the SUBSCRIBE: from then on no publish is missed. */
  readonly subscribed: Promise<unknown>;
}

export class AppendNotifications {
  private readonly channels = new Map<string, Channel>();

  /** @param subscriber a connection of its own: in subscriber mode it can run nothing else */
  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string) => {
      for (const watch of this.channels.get(channel)?.watches ?? []) watch.notify();
    });
  }

  /** A watch of `channel`, live once this resolves; close it when done. */
  async watch(channel: string): Promise<AppendWatch> {
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      entry = { watches: new Set(), subscribed: this.subscriber.subscribe(channel) };
      this.channels.set(channel, entry);
    }
    const watches = entry.watches;
    const watch = new AppendWatch(() => {
      watches.delete(watch);
      if (watches.size > 0 || this.channels.get(channel)?.watches !== watches) return;
      this.channels.delete(channel);
      // Commands on one connection run in order: a later SUBSCRIBE of the channel still wins.
      this.subscriber.unsubscribe(channel).catch(() => {});
    });
    watches.add(watch);
    try {
      await entry.subscribed;
    } catch (error) {
      watch.close();
      throw error;
    }
    return watch;
  }
}

/** One follower's view of its channel: "was anything appended since I last looked?" */
export class AppendWatch {
  private appended = false;
  private wake?: () => void;

  constructor(private readonly onClose: () => void) {}

  notify(): void {
    this.appended = true;
    this.wake?.();
  }

  /** Forgets earlier notifications: call right before reading the log. */
  reset(): void {
    this.appended = false;
  }

  /** Resolves at once if something was appended since reset(), else at the next append, after pollMs, or on abort. */
  wait(signal: AbortSignal, pollMs: number): Promise<void> {
    if (this.appended || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(poll);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const poll = setTimeout(done, pollMs);
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    this.wake?.();
    this.onClose();
  }
}
