import { execFileSync } from 'node:child_process';

/**
 * Whether a binary an integration suite needs is on PATH. Under CI=true a missing
 * binary throws (the suite must fail loudly); elsewhere the suite may skip, and this
 * prints what to install.
 */
export function hasBinary(name: string, debianPackage: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    const msg = `${name} not found: install the Debian package ${debianPackage} (apt-get install -y ${debianPackage})`;
    if (process.env.CI === 'true') throw new Error(`${msg}; CI=true forbids skipping this suite`);
    console.warn(`skipping: ${msg}`);
    return false;
  }
}
