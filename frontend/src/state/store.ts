// A tiny external store: one value, a reducer, subscribers. Components read it with
// `useStore`; the feed connection dispatches into it.

import { useEffect, useState } from 'preact/hooks';

export class Store<S, A> {
  private listeners = new Set<() => void>();

  constructor(
    private state: S,
    private readonly reducer: (state: S, action: A) => S,
  ) {}

  get(): S {
    return this.state;
  }

  dispatch(action: A): void {
    const next = this.reducer(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const listener of this.listeners) listener();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The store's current value; re-renders when it changes. */
export function useStore<S, A>(store: Store<S, A>): S {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(() => setValue(store.get()));
  }, [store]);
  return value;
}
