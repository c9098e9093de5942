// Runs the AWS Toolkit's amazon-states-language-service over ASL files and
// fails on any diagnostic, so the workflows invctl generates are checked by
// the same engine that underlines mistakes in VS Code.
// Usage: node asl-language-service.mjs FILE...
import { readFileSync } from 'node:fs';
import { getLanguageService } from 'amazon-states-language-service';
import { TextDocument } from 'vscode-languageserver-textdocument';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node asl-language-service.mjs FILE...');
  process.exit(2);
}

const service = getLanguageService({});
let problems = 0;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const document = TextDocument.create(`file://${file}`, 'asl', 1, text);
  const json = service.parseJSONDocument(document);
  const diagnostics = await service.doValidation(document, json);
  for (const d of diagnostics) {
    problems += 1;
    const { line, character } = d.range.start;
    console.log(`${file}:${line + 1}:${character + 1}: ${d.message}`);
  }
}
if (problems > 0) {
  console.log(`${problems} problem(s) found`);
  process.exit(1);
}
console.log(`${files.length} file(s) valid`);
