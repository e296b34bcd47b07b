/**
 * Numbered schema migrations, applied in order at start inside one transaction each;
 * `PRAGMA user_version` records the last applied. Never edit a released migration: add one.
 */
import m001 from './001-initial.js';
import m002 from './002-pushgateway-groups.js';
import m003 from './003-pushgateway-group-log.js';
import m004 from './004-succeeded-runs-index.js';
import m005 from './005-lean-log.js';
import m006 from './006-drop-succeeded-index.js';
import m007 from './007-run-event-chunks.js';
import m008 from './008-unsuccessful-runs-index.js';

export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  { version: 1, name: 'initial', sql: m001 },
  { version: 2, name: 'pushgateway-groups', sql: m002 },
  { version: 3, name: 'pushgateway-group-log', sql: m003 },
  { version: 4, name: 'succeeded-runs-index', sql: m004 },
  { version: 5, name: 'lean-log', sql: m005 },
  { version: 6, name: 'drop-succeeded-index', sql: m006 },
  { version: 7, name: 'run-event-chunks', sql: m007 },
  { version: 8, name: 'unsuccessful-runs-index', sql: m008 },
];
