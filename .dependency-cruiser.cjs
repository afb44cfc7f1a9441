// The repository's layering as rules `npm run check:boundaries` fails on (docs/ARCHITECTURE.md
// draws them). Each rule's name says what it keeps; its comment says why. A rule's paths are
// regular expressions over paths from the repository root. test/unit/repo-boundaries.spec.ts
// shows every rule rejecting a deliberate violation.
//
// CommonJS (module.exports) keeps the file free of a default export.

/** Paths of packages, as opposed to the repository's own files. */
const OUTSIDE_REPO = ['(^|/)node_modules/'];

/** I/O a pure computation has no business doing. */
const IO_CORE_MODULES = '^(node:)?(fs|fs/promises|net|child_process|http|https|http2|dgram|tls|cluster|worker_threads)$';

/** Packages of the service around the engine: transport, storage, metrics, tracing, queues. */
const SERVICE_PACKAGES = '(^|/)node_modules/(@types/)?(@grpc/|@opentelemetry/|better-sqlite3/|prom-client/|ioredis/|bullmq/|pg/|pg-[^/]+/)';

/** Engine modules free of TF.js at run time: the only ones tf-free.ts re-exports by value. */
const TF_FREE_ENGINE_MODULES = '^server/engine/(types|classification-metrics|weights-format|models/pretrained/safetensors(-writer)?)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'engine-imports-only-engine',
      comment:
        'The engine is pure TF.js: it imports nothing from the layers that use it (data, jobs, rpc, ' +
        'observability, common, client), so it can be tested, benchmarked and reused on its own.',
      severity: 'error',
      from: { path: '^server/engine/' },
      to: { pathNot: ['^server/engine/', ...OUTSIDE_REPO], dependencyTypesNot: ['core'] },
    },
    {
      name: 'engine-is-pure',
      comment:
        'No files, sockets, processes, gRPC, SQLite, metrics or tracing inside the engine: the host ' +
        'does the I/O and hands the engine plain data.',
      severity: 'error',
      from: { path: '^server/engine/' },
      to: { path: [IO_CORE_MODULES, SERVICE_PACKAGES] },
    },
    {
      name: 'engine-through-front-door',
      comment:
        'Other server layers use the engine through its public surface only: index.ts (loads TF.js, ' +
        'for the worker thread) or tf-free.ts (the TF.js-free part). Tests and bench may import internals.',
      severity: 'error',
      from: { path: '^server/', pathNot: '^server/engine/' },
      to: { path: '^server/engine/', pathNot: '^server/engine/(index|tf-free)\\.ts$' },
    },
    {
      name: 'main-thread-without-tfjs',
      comment:
        'Importing engine/index.ts loads TF.js; only worker-thread code (jobs/worker/) may. Main-thread ' +
        'code, and data/ which both threads load, import engine/tf-free.ts instead.',
      severity: 'error',
      from: { path: '^server/', pathNot: '^server/(engine|jobs/worker)/' },
      to: { path: '^server/engine/index\\.ts$' },
    },
    {
      name: 'tf-free-door-stays-tf-free',
      comment:
        'engine/tf-free.ts promises the main thread that it does not load TF.js: it re-exports by value ' +
        'only from the engine modules listed here, and those do not import TF.js at run time.',
      severity: 'error',
      from: { path: '^server/engine/tf-free\\.ts$' },
      to: { pathNot: TF_FREE_ENGINE_MODULES, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'tf-free-modules-without-tfjs',
      comment: 'The engine modules engine/tf-free.ts re-exports by value use TF.js for types only.',
      severity: 'error',
      from: { path: TF_FREE_ENGINE_MODULES },
      to: { path: '(^|/)node_modules/@tensorflow/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'data-below-jobs',
      comment: 'The data layer reads and validates datasets for jobs and rpc; it knows neither, nor observability.',
      severity: 'error',
      from: { path: '^server/data/' },
      to: { path: '^server/(jobs|rpc|observability)/' },
    },
    {
      name: 'common-imports-only-common',
      comment: 'server/common is the vocabulary below every layer but the engine: it imports no other server code.',
      severity: 'error',
      from: { path: '^server/common/' },
      to: { path: '^server/', pathNot: '^server/common/' },
    },
    {
      name: 'jobs-without-observability',
      comment:
        'Metrics and tracing enter jobs as interfaces wired in the composition root; jobs/ imports ' +
        'neither server/observability nor OpenTelemetry.',
      severity: 'error',
      from: { path: '^server/jobs/' },
      to: { path: ['^server/observability/', '(^|/)node_modules/@opentelemetry/'] },
    },
    {
      name: 'client-imports-only-client',
      comment: 'The SDK and CLI ship on their own: client code imports only client/** (the generated contract included).',
      severity: 'error',
      from: { path: '^client/' },
      to: { pathNot: ['^client/', ...OUTSIDE_REPO], dependencyTypesNot: ['core'] },
    },
    {
      name: 'client-uses-only-its-dependencies',
      comment:
        'client/ is the package @steadytune/client, installed without the repository: a package its code imports ' +
        "must be a dependency in client/package.json (not a devDependency, not only the root's). bin.js loads tsx " +
        'only in a checkout, where it runs the sources. A peer dependency listed there counts (the offline entry ' +
        "imports @tensorflow/tfjs, an optional peer; dependency-cruiser also tags it npm-no-pkg for the package's " +
        'peerDependenciesMeta key, hence the npm-peer exception).',
      severity: 'error',
      from: { path: '^client/', pathNot: '^client/cli/bin\\.js$' },
      to: { dependencyTypes: ['npm-dev', 'npm-no-pkg', 'npm-unknown', 'npm-optional'], dependencyTypesNot: ['npm-peer'] },
    },
    {
      name: 'server-uses-only-generated-client',
      comment: 'client/gen is the contract both sides import; the rest of client/ is the SDK, which the server never uses.',
      severity: 'error',
      from: { path: '^server/' },
      to: { path: '^client/', pathNot: '^client/gen/' },
    },
    {
      name: 'no-circular',
      comment:
        'Import arrows point one way, type-only imports included: a cycle makes load order matter and ' +
        'every file in it a dependency of every other.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: OUTSIDE_REPO },
    // The SDK package's build output: compiled copies of client/**, checked as their sources.
    exclude: { path: '^client/dist/' },
    // Type-only imports are arrows too: they tie the files together for the reader and the compiler.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
