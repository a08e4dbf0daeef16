/** A database problem at start is told in plain words, without a stack trace. */
import { describe, expect, it } from 'vitest';
import { startupErrorMessage } from '../../src-main/app/startup-error.ts';
import { DamagedDatabaseError, MigrationError, NotADatabaseError, SchemaTooNewError } from '../../src-main/store/errors.ts';

const file = '/home/ada/.config/LoRA Lab/lab.db';

describe('startupErrorMessage', () => {
  it('says a newer version wrote the file, and that it was left alone', () => {
    const m = startupErrorMessage(new SchemaTooNewError(file, 9, 3), file);
    expect(m.title).toBe('LoRA Lab cannot open its database');
    expect(m.body).toMatch(/newer version of LoRA Lab/);
    expect(m.body).toMatch(/left untouched/);
  });

  it('says a file is not a LoRA Lab database or is damaged', () => {
    expect(startupErrorMessage(new NotADatabaseError(file, 'no SQLite header'), file).body).toMatch(/not a LoRA Lab database, or it is damaged/);
  });

  it('says a damaged file was not written to, and offers the way out', () => {
    const m = startupErrorMessage(new DamagedDatabaseError(file, "the runs table failed SQLite's quick check"), file);
    expect(m.body).toMatch(/is damaged: part of it can no longer be read, so nothing was written to it/);
    expect(m.body).toMatch(/Start with a fresh database \(the damaged file is kept aside/);
  });

  it('calls missing migrations an incomplete installation', () => {
    expect(startupErrorMessage(new MigrationError('no migrations/ folder'), file).body).toMatch(/incomplete.*Reinstall/s);
  });

  it('explains a native module built for the wrong runtime and how to fix it', () => {
    const err = new Error("The module 'better_sqlite3.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 115. This version of Node.js requires NODE_MODULE_VERSION 140.");
    const m = startupErrorMessage(err, file);
    expect(m.body).toMatch(/built for Node\.js, not for this version of Electron/);
    expect(m.body).toMatch(/install-app-deps/);
  });

  it('names permission and lock problems, and falls back to the message itself', () => {
    expect(startupErrorMessage(new Error('EACCES: permission denied, open'), file).body).toMatch(/may not write to/);
    expect(startupErrorMessage(new Error('SQLITE_BUSY: database is locked'), file).body).toMatch(/locked/);
    const m = startupErrorMessage(new Error('disk I/O error'), file);
    expect(m.body).toContain('disk I/O error');
    expect(m.body).toContain(file);
    expect(m.body).not.toMatch(/\n\s+at /);
  });
});
