/** The icons of calls: inline SVG, hidden from assistive technology (their holder is named). */
const common = { width: 20, height: 20, viewBox: "0 0 20 20", "aria-hidden": true, focusable: false } as const;

export function PhoneIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round">
      <path d="M5.2 2.8l2.3.4 1.1 3.2-1.6 1.2a9 9 0 004.4 4.4l1.2-1.6 3.2 1.1.4 2.3a1.6 1.6 0 01-1.7 1.9A13.4 13.4 0 013.3 4.5a1.6 1.6 0 011.9-1.7z" />
    </svg>
  );
}

export function HangUpIcon() {
  return (
    <svg {...common} fill="currentColor">
      <path d="M10 7.2c-3.1 0-6 1-7.9 2.8a1.2 1.2 0 000 1.7l1.6 1.6a1.2 1.2 0 001.5.1l1.9-1.3a1.2 1.2 0 00.5-1V9.6a9.6 9.6 0 014.8 0v1.5a1.2 1.2 0 00.5 1l1.9 1.3a1.2 1.2 0 001.5-.1l1.6-1.6a1.2 1.2 0 000-1.7C16 8.2 13.1 7.2 10 7.2z" />
    </svg>
  );
}

export function VideoIcon() {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinejoin="round">
      <rect x="2" y="5" width="11" height="10" rx="2" />
      <path d="M13 9l5-3v8l-5-3z" />
    </svg>
  );
}

export function MicIcon({ off = false }: { off?: boolean }) {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round">
      <rect x="7" y="2.5" width="6" height="10" rx="3" />
      <path d="M4.5 10a5.5 5.5 0 0011 0M10 15.5V18" />
      {off && <path d="M3 3l14 14" />}
    </svg>
  );
}

export function CameraIcon({ off = false }: { off?: boolean }) {
  return (
    <svg {...common} fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round">
      <rect x="2" y="5" width="11" height="10" rx="2" />
      <path d="M13 9l5-3v8l-5-3z" />
      {off && <path d="M2 3l16 14" />}
    </svg>
  );
}
