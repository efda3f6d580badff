/**
 * The import rules of src/, checked in CI by test/unit/architecture.test.ts
 * (`npx depcruise src --config .dependency-cruiser.cjs`). The layers, lowest
 * first: domain (the model and its rules) → engine (the metering decision
 * over its ports) → the adapters (store, limits, alerts, billing, ...) →
 * http and gateway → the composition root and the CLI.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'An import cycle makes two modules one: neither can be read, tested or moved alone.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-the-bottom',
      comment: 'The model imports nothing of Tollgate outside itself.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: '^src/', pathNot: '^src/domain/' },
    },
    {
      name: 'engine-imports-only-domain',
      comment: 'The metering engine holds the decision over its ports; the adapters plug into it, never the reverse.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/', pathNot: '^src/(engine|domain)/' },
    },
    {
      name: 'store-below-http',
      comment: 'The stores raise domain errors; the HTTP layer decides what they become on the wire.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(http|gateway|cli|client|dashboard|runtime|compose)' },
    },
    {
      name: 'store-raises-domain-errors',
      comment: "src/errors.ts is the HTTP error catalogue: the model, the engine, the limiters and the stores raise src/domain/errors.ts.",
      severity: 'error',
      from: { path: '^src/(domain|engine|store|limits)/' },
      to: { path: '^src/errors\\.ts$' },
    },
    {
      name: 'rules-do-not-know-the-store',
      comment: 'Limits, observability and the dashboard see metering through the domain, not through a store.',
      severity: 'error',
      from: { path: '^src/(limits|observability|dashboard)/' },
      to: { path: '^src/store/' },
    },
    {
      name: 'nothing-imports-http-from-below',
      comment: 'Only the HTTP layer, the gateway, the composition root and the CLI may import the HTTP layer.',
      severity: 'error',
      from: { path: '^src/(domain|engine|store|limits|alerts|billing|usage|metering|ingest|observability)/' },
      to: { path: '^src/http/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
