/** A row of tabs that are links (each tab has its own hash), and the panel of the current one. */
import type { ComponentChildren } from 'preact';

export interface Tab<T extends string> {
  id: T;
  label: string;
  href: string;
}

export function Tabs<T extends string>({
  label,
  tabs,
  current,
  children,
}: {
  label: string;
  tabs: ReadonlyArray<Tab<T>>;
  current: T;
  children: ComponentChildren;
}) {
  return (
    <>
      <div class="tabs" role="tablist" aria-label={label}>
        {tabs.map((t) => (
          <a
            key={t.id}
            id={`tab-${t.id}`}
            role="tab"
            href={t.href}
            aria-selected={t.id === current}
            aria-controls="tab-panel"
          >
            {t.label}
          </a>
        ))}
      </div>
      <div id="tab-panel" role="tabpanel" aria-labelledby={`tab-${current}`}>
        {children}
      </div>
    </>
  );
}
