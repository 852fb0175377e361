/** Runs `load` now and every `ms` while the component is shown (a new `load` starts over). */
import { useEffect } from 'preact/hooks';

export function usePoll(load: () => Promise<void>, ms: number): void {
  useEffect(() => {
    void load();
    const t = setInterval(load, ms);
    return () => clearInterval(t);
  }, [load, ms]);
}
