// Types of scripts/build.mjs for the TypeScript that imports it (the test helpers).
export declare const DIST: string;
export declare const ENTRIES: Record<'server' | 'worker' | 'db' | 'import', string>;
export declare function isFresh(): boolean;
export declare function build(options?: { prune?: boolean }): Promise<string[]>;
