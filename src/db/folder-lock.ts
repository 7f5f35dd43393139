import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The embedded database's files belong to one process at a time: two PGlite instances
// on one folder each keep their own copy in memory and overwrite each other's writes
// (rows lost, the folder corrupted). The process that opens a folder holds a lock file
// beside it naming its pid and, once it serves, its URL; any other process is refused
// or, for commands that can, goes through that server. A lock whose process has died
// is stale and taken over.

export interface LockHolder {
  pid: number;
  /** Where the holder serves HTTP, once it does; null for a command or a server starting. */
  url: string | null;
}

export interface FolderLock {
  /** Records the URL the holder serves at, for other processes to go through. */
  announce(url: string): void;
  release(): void;
}

/** Another live process holds the folder. */
export class FolderInUseError extends Error {
  constructor(
    readonly folder: string,
    readonly holder: LockHolder,
  ) {
    super(
      `The embedded database in ${folder} is in use by process ${holder.pid}` +
        (holder.url ? ` (the server at ${holder.url})` : '') +
        '. One process at a time may open it: stop that process first, or set DATABASE_URL to use PostgreSQL, which any number of processes share.',
    );
    this.name = 'FolderInUseError';
  }
}

export const lockFileOf = (folder: string) => `${folder}.lock`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockHolder | null {
  try {
    const { pid, url } = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof pid === 'number' ? { pid, url: typeof url === 'string' ? url : null } : null;
  } catch {
    return null;
  }
}

/** The live process holding the folder, if any. */
export function folderHolder(folder: string): LockHolder | null {
  const holder = readLock(lockFileOf(folder));
  return holder && alive(holder.pid) ? holder : null;
}

/** Writes the file under a temporary name first, so no reader ever sees half of it. */
function writeWhole(file: string, holder: LockHolder, place: (temporary: string) => void) {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(holder));
  try {
    place(temporary);
  } finally {
    try {
      unlinkSync(temporary);
    } catch {
      // renamed away
    }
  }
}

const held = new Set<string>();
process.on('exit', () => {
  for (const file of held) {
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }
});

/** Takes the folder for this process, or throws FolderInUseError naming the holder. */
export function lockFolder(folder: string): FolderLock {
  const file = lockFileOf(folder);
  mkdirSync(path.dirname(file), { recursive: true });
  const mine: LockHolder = { pid: process.pid, url: null };
  for (let attempt = 0; ; attempt++) {
    try {
      // link() fails when the name exists: of two processes, exactly one gets the lock.
      writeWhole(file, mine, (temporary) => linkSync(temporary, file));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readLock(file);
      if (holder && alive(holder.pid)) throw new FolderInUseError(folder, holder);
      // Stale (its process died) or unreadable: take it over, once.
      if (attempt > 0) throw new FolderInUseError(folder, holder ?? { pid: NaN, url: null });
      try {
        unlinkSync(file);
      } catch {
        // another process removed it first
      }
    }
  }
  held.add(file);
  return {
    announce(url) {
      writeWhole(file, { pid: process.pid, url }, (temporary) => renameSync(temporary, file));
    },
    release() {
      if (!held.delete(file)) return;
      if (readLock(file)?.pid !== process.pid) return;
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    },
  };
}
