import { connectivityState, type Client } from '@grpc/grpc-js';
import type { ChannelConnection } from './retry.js';

/**
 * The retry loops' view of a client's channel. `connectTimeoutMs` bounds the wait only until
 * the channel is first READY: a server that is down from the start fails calls quickly, while
 * one that restarts later is ridden out by the ordinary retries.
 */
export function channelConnection(client: Client, target: string, connectTimeoutMs: number | undefined): ChannelConnection {
  const channel = client.getChannel();
  let everConnected = false;
  // A watcher without a deadline holds no timer, so it does not keep the process alive.
  const watch = (state: connectivityState): void => {
    if (state === connectivityState.READY) everConnected = true;
    else if (state !== connectivityState.SHUTDOWN)
      channel.watchConnectivityState(state, Infinity, () => watch(channel.getConnectivityState(false)));
  };
  watch(channel.getConnectivityState(false));
  return {
    target,
    awaitReady: (until) =>
      new Promise((resolve) => client.waitForReady(new Date(until), (error) => resolve(error === undefined || error === null))),
    unreachable: () => {
      const state = channel.getConnectivityState(false);
      return state !== connectivityState.READY && (!everConnected || state === connectivityState.TRANSIENT_FAILURE);
    },
    connectDeadline: (startedAt) => (connectTimeoutMs === undefined || everConnected ? Infinity : startedAt + connectTimeoutMs),
  };
}
