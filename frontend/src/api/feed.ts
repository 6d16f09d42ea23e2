// The live feed (`/ws`): one WebSocket to host-proxy, reconnected for ever with
// backoff. Every connection opens with a full snapshot, so a reconnect is also the
// resync; the page asks for one by reconnecting when the reducer saw a gap, a
// reorg or a message it cannot read. A silent connection (no heartbeat for
// `SILENCE_MS`) is treated as dead: proxies drop idle sockets without a close.
// Each connection names the connected wallet (`?player=`), so its stake follows the
// snapshot; an account chosen later is looked up by the page (`followOwnStake`).

import { decodeFeedMessage } from './decode';
import type { FeedAction, FeedState } from '../state/reducer';
import type { Store } from '../state/store';

/** Longest wait between reconnection attempts. */
export const MAX_BACKOFF_MS = 5_000;
/** First wait after a connection drops. */
export const MIN_BACKOFF_MS = 250;
/** host-proxy sends a heartbeat every 15 s: two missed ones and a margin. */
export const SILENCE_MS = 40_000;

/** The feed's URL; with `player`, the feed sends that player's stake after its
 * snapshot. Addresses go in lower case (host-proxy checks a mixed-case one's
 * checksum, and a wallet may report any case). */
export function feedUrl(location: Pick<Location, 'protocol' | 'host'>, player?: string | null): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = player ? `?player=${encodeURIComponent(player.toLowerCase())}` : '';
  return `${scheme}//${location.host}/ws${query}`;
}

/** Keeps the store fed until the returned function is called; `url` is asked again
 * for every connection. */
export function connectFeed(url: () => string, store: Store<FeedState, FeedAction>): () => void {
  let socket: WebSocket | null = null;
  let stopped = false;
  let backoff = MIN_BACKOFF_MS;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let silence: ReturnType<typeof setTimeout> | undefined;

  const watch = (ws: WebSocket) => {
    clearTimeout(silence);
    silence = setTimeout(() => ws.close(), SILENCE_MS);
  };

  const open = () => {
    clearTimeout(retry);
    if (stopped) return;
    const ws = new WebSocket(url());
    socket = ws;
    ws.onopen = () => {
      store.dispatch({ type: 'open' });
      watch(ws);
    };
    ws.onmessage = (event: MessageEvent) => {
      watch(ws);
      try {
        const message = decodeFeedMessage(JSON.parse(String(event.data)));
        store.dispatch({ type: 'message', message, at: Date.now() });
        if (message.type === 'snapshot') backoff = MIN_BACKOFF_MS;
      } catch {
        store.dispatch({ type: 'garbled' });
      }
      if (store.get().resync) {
        // A fresh connection starts with a fresh snapshot.
        backoff = MIN_BACKOFF_MS;
        ws.close();
      }
    };
    ws.onclose = () => {
      clearTimeout(silence);
      if (socket !== ws) return;
      socket = null;
      store.dispatch({ type: 'closed' });
      if (stopped) return;
      retry = setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    };
    // Errors are followed by a close; the status pill tells the player.
    ws.onerror = () => {};
  };

  // Back online, or back to the tab: do not wait out the backoff.
  const hurry = () => {
    if (!socket && !stopped) open();
  };
  window.addEventListener('online', hurry);
  document.addEventListener('visibilitychange', hurry);
  open();

  return () => {
    stopped = true;
    clearTimeout(retry);
    clearTimeout(silence);
    window.removeEventListener('online', hurry);
    document.removeEventListener('visibilitychange', hurry);
    socket?.close();
  };
}
