/** The few icons the app draws: inline SVG, hidden from assistive technology (their holder is named). */
const common = { width: 16, height: 16, viewBox: "0 0 16 16", "aria-hidden": true, focusable: false } as const;

export function ClockIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="1.5">
      <circle cx="8" cy="8" r="6" />
      <path d="M8 4.5V8l2.5 1.5" strokeLinecap="round" />
    </svg>
  );
}

export function CheckIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round">
      <path d="M3 8.5l3 3 7-7" />
    </svg>
  );
}

export function DoubleCheckIcon() {
  return (
    <svg {...common} width={20} viewBox="0 0 20 16" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round">
      <path d="M1.5 8.5l3 3 7-7" />
      <path d="M8.5 11.5l7-7" />
      <path d="M7 10l1.5 1.5" />
    </svg>
  );
}

export function AlertIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round">
      <circle cx="8" cy="8" r="6" />
      <path d="M8 4.8v3.6M8 11h.01" />
    </svg>
  );
}

export function SendIcon() {
  return (
    <svg {...common} width={20} height={20} viewBox="0 0 20 20" fill="currentColor">
      <path d="M2.5 2.8l15 7.2-15 7.2 1.6-6.2L11 10 4.1 9z" />
    </svg>
  );
}

export function BackIcon() {
  return (
    <svg {...common} width={20} height={20} viewBox="0 0 20 20" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round">
      <path d="M12.5 4l-6 6 6 6" />
    </svg>
  );
}

export function AttachIcon() {
  return (
    <svg {...common} width={20} height={20} viewBox="0 0 20 20" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round">
      <path d="M16 9.5l-6.2 6.2a4 4 0 01-5.7-5.7l6.6-6.6a2.7 2.7 0 013.8 3.8l-6.5 6.5a1.3 1.3 0 01-1.9-1.9l5.9-5.9" />
    </svg>
  );
}
