// `--help` text. yargs re-wraps usage text to the terminal width, but a hard newline inside a
// paragraph makes it break lines in the middle of words; so paragraphs are written as one line
// each and separated by blank lines.

/** Joins paragraphs for `.usage()`: newlines inside a paragraph become spaces. */
export function usageText(...paragraphs: string[]): string {
  return paragraphs.map((p) => p.replace(/\s*\n\s*/g, ' ').trim()).join('\n\n');
}
