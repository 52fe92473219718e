// madge ships no type declarations; this covers the part of its API the architecture test uses.
declare module "madge" {
  interface MadgeConfig {
    fileExtensions?: string[];
    excludeRegExp?: RegExp[];
    tsConfig?: string;
  }

  interface MadgeInstance {
    /** Every import cycle, each as the list of files (relative to the base directory) that form it. */
    circular(): string[][];
  }

  export default function madge(path: string | string[], config?: MadgeConfig): Promise<MadgeInstance>;
}
