/**
 * What the person sees when LoRA Lab cannot open its database at start: a title and a
 * few plain sentences (shown with dialog.showErrorBox), never a stack trace.
 */
import { DamagedDatabaseError, MigrationError, NotADatabaseError, SchemaTooNewError } from '../store/errors.ts';

export interface StartupMessage {
  title: string;
  body: string;
}

export function startupErrorMessage(err: unknown, dbFile: string): StartupMessage {
  const title = 'LoRA Lab cannot open its database';
  const detail = err instanceof Error ? err.message : String(err);
  if (err instanceof SchemaTooNewError) {
    return { title, body: `${dbFile} was saved by a newer version of LoRA Lab. Install that version (or newer) to open it; the file was left untouched.` };
  }
  if (err instanceof DamagedDatabaseError) {
    return { title, body: `${dbFile} is damaged: part of it can no longer be read, so nothing was written to it. Start with a fresh database (the damaged file is kept aside, renamed, for a repair tool) or restore a backup.` };
  }
  if (err instanceof NotADatabaseError) {
    return { title, body: `${dbFile} is not a LoRA Lab database, or it is damaged. Move it aside (LoRA Lab then starts with an empty one) or restore a backup; the file was left untouched.` };
  }
  if (err instanceof MigrationError) {
    return { title, body: `This copy of LoRA Lab is incomplete (its database migrations are missing or damaged). Reinstall it.\n\n${detail}` };
  }
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version|invalid ELF header|not a valid Win32 application/i.test(detail)) {
    return {
      title,
      body:
        'The database module (better-sqlite3) was built for Node.js, not for this version of Electron. ' +
        'In the project folder run `npx electron-builder install-app-deps` to rebuild it for Electron ' +
        '(and `npm rebuild better-sqlite3` before using the command line again).',
    };
  }
  if (/EACCES|EPERM|EROFS|readonly|read-only/i.test(detail)) {
    return { title, body: `LoRA Lab may not write to ${dbFile}. Check the permissions of that file and its folder.\n\n${detail}` };
  }
  if (/SQLITE_BUSY|database is locked/i.test(detail)) {
    return { title, body: `Another program holds ${dbFile} locked. Close it (or another LoRA Lab) and start again.\n\n${detail}` };
  }
  return { title, body: `${detail}\n\nDatabase: ${dbFile}` };
}
