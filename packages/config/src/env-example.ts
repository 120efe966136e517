import { settings } from './config.ts';

/** The text of `.env.example`, made from the settings table so the two never drift. */
export function envExample(): string {
  const lines = ['# Vigil settings. Every variable is optional; the value shown is an example or the default.', ''];
  for (const [name, s] of Object.entries(settings)) {
    lines.push(`# ${s.description}`);
    lines.push(s.example === undefined ? `# ${name}=` : `${s.hasFallback ? '' : '# '}${name}=${s.example}`);
    lines.push('');
  }
  return lines.join('\n');
}
