/** tsbox's version, as package.json says (a test checks that they agree). */
export const VERSION = '0.1.0';
