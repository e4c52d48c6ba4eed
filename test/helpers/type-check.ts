// Type-checks a TypeScript app as `tsc -p` would (its tsconfig, skipLibCheck as it says), in this
// process, and reports the diagnostics of the app's own files and of the named installed
// packages' declarations. What tsc would add is @types/node checked against itself: ~7 s of CPU
// per run, which says nothing about our packages (test/packaging.test.ts ran six such tsc
// processes). The negative cases in packaging.test.ts prove errors in either place are found.
import { dirname, join } from 'node:path';
import ts from 'typescript';

/** Formatted diagnostics (empty when the app and `packages` type-check). */
export function typeCheck(
  dir: string,
  packages: readonly string[],
  project = 'tsconfig.json',
): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(dir, project), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`${project}: not a tsconfig`);
  const host = ts.createCompilerHost(parsed.options);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options, host });
  const checked = (fileName: string) =>
    !fileName.includes('/node_modules/') ||
    packages.some((name) => fileName.includes(`/node_modules/${name}/`));
  const diagnostics = [
    ...parsed.errors,
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program
      .getSourceFiles()
      .filter((file) => checked(file.fileName))
      .flatMap((file) => [
        ...program.getSyntacticDiagnostics(file),
        ...program.getSemanticDiagnostics(file),
      ]),
  ];
  const formatHost: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => dirname(join(dir, project)),
    getNewLine: () => '\n',
  };
  return diagnostics.map((d) => ts.formatDiagnostic(d, formatHost).trim());
}
