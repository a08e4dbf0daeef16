/**
 * The lora-lab command. Each subcommand parses its flags, talks to the Lab (or the
 * trainer) through a CliContext, and prints a table or, with --json, one JSON value.
 */
import { ConfigError } from './trainer/config.ts';
import { UsageError } from './cli/options.ts';
import { demo } from './cli/demo.ts';
import { trainCommand } from './cli/train.ts';
import { makeSession } from './cli/session.ts';
import { RunFailedError } from './cli/context.ts';
import { compareCommand, modelsCommand, rmCommand, runsCommand, showCommand, tagCommand } from './cli/runs.ts';
import { LabError } from './lab/api.ts';
import { StoreError } from './store/errors.ts';
import { serveCommand } from './cli/serve.ts';
import { terminalSafe } from './cli/sanitize.ts';
import { failureLine } from './cli/error-line.ts';
import { evaluateCommand, exportCommand, importCommand, mergeCommand } from './cli/weights.ts';

const HELP = `lora-lab — LoRA fine-tuning experiments on MNIST

Usage: lora-lab <command> [options]

Commands:
  demo        the classic experiment: base MLP one epoch, rank-1 LoRA on digit 7, before/after table
  train       train a base MLP
  finetune    LoRA fine-tune a stored base model (--finetune-from ID, default: the newest model)
  runs        list stored runs (--status, --kind, --tag, --search TEXT, --param lora.r=1)
  show RUN    one run: config, metrics, evaluation before/after
  compare RUN RUN...   hyperparameter differences (--all for every row), metrics, wrong per digit
  rm RUN...   delete runs (their metrics, evaluations and adapters go too)
  tag RUN TAG...       add tags (--remove to take them off)
  models      list stored models
  merge --adapter ID[:W] ... [--method linear|cat|svd|ties|dare] [--rank K] [--density D]
              [--drop-rate P] [--seed N] [--save NAME --as model|adapter]
              preview (accuracy, wrong per digit) of combined adapters, optionally saved
  export ID --format safetensors|peft|tfjs|csv|json --out PATH [--merged] [--force]
              ID: a run (5 or r5), a model (m3) or an adapter (a2); several runs: a comparison
  import PATH [--as model|adapter] [--base MODEL] [--name NAME]
              safetensors base weights (PyTorch layout) or a PEFT adapter folder
  evaluate MODEL       accuracy and wrong per digit of a stored model
  serve       web mode: the app in your browser (--port N, --host H, --open, --concurrency N);
              a --host other than loopback needs --allow-remote (the token URL then drives the lab)

Run options (train, finetune, demo):
  --seed N              random seed (0)
  --batch-size N        batch size (10)
  --epochs N            epochs over the training subset (1)
  --steps N             stop after N optimizer steps (finetune/demo: 100)
  --lr X                learning rate (0.001)
  --optimizer adam|sgd  optimizer (adam)
  --digits 7[,3...]     train only on these digits (finetune/demo: 7; train: all)
  --sizes 784,1000,2000,10   layer widths
  --rank N --alpha X    LoRA rank and alpha (1, 1)
  --targets linear1,... LoRA target layers (all)
  --init kaiming|gaussian    LoRA A initialisation (finetune: kaiming; demo: gaussian)
  --rslora              scaling alpha/√r instead of alpha/r
  --lora-plus RATIO     LoRA+: B learns at RATIO × lr
  --train-limit N --test-limit N   use fewer images (quick checks)
  --backend cuda|tensorflow|webgpu|wasm|cpu   force a compute backend
  --json                print one JSON object instead of a table
  -q, --quiet           no progress bar

Every command takes --db FILE (default: $LORA_LAB_DB, else $XDG_DATA_HOME/lora-lab/lab.db)
and --json; --reset-db keeps a damaged database aside (renamed) and starts a fresh one. Environment: LORA_LAB_BACKEND forces a backend; LORA_LAB_MNIST_DIR points at other IDX files.`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(HELP);
    return cmd ? 0 : 1;
  }
  const commands: Record<string, (argv: string[], s: ReturnType<typeof makeSession>) => Promise<void>> = {
    demo,
    train: (a, s) => trainCommand('base', a, s),
    finetune: (a, s) => trainCommand('lora', a, s),
    runs: runsCommand,
    show: showCommand,
    compare: compareCommand,
    rm: rmCommand,
    tag: tagCommand,
    models: modelsCommand,
    serve: serveCommand,
    export: exportCommand,
    merge: mergeCommand,
    import: importCommand,
    evaluate: evaluateCommand,
  };
  let session: ReturnType<typeof makeSession> | null = null;
  try {
    const command = commands[cmd];
    if (!command) throw new UsageError(`unknown command "${cmd}" (try lora-lab --help)`);
    session = makeSession(rest);
    await command(rest, session);
    return 0;
  } catch (err) {
    // A damaged database (at open it is a UsageError already), SQLite and file-system errors: one line each.
    const line = err instanceof UsageError ? null : failureLine(err);
    if (line !== null) {
      console.error(`lora-lab: ${terminalSafe(line)}`);
      return 1;
    }
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof RunFailedError || err instanceof LabError) {
      console.error(`lora-lab: ${terminalSafe(err.message)}`);
      return err instanceof RunFailedError ? 1 : 2;
    }
    if (err instanceof StoreError) {
      console.error(`lora-lab: ${terminalSafe(err.message)}`);
      return 1;
    }
    throw err;
  } finally {
    try {
      await session?.close();
    } catch (err) {
      // Closing must not replace the real message with a stack (e.g. the file went bad meanwhile).
      console.error(`lora-lab: ${terminalSafe(failureLine(err) ?? `closing the database failed: ${(err as Error).message}`)}`);
      process.exitCode = 1;
    }
  }
}

const code = await main(process.argv.slice(2));
// A failure while closing (set above) turns a success into 1; it never hides another code.
process.exitCode = code !== 0 ? code : (process.exitCode ?? 0);
