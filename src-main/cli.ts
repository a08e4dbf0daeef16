/**
 * The lora-lab command. Each subcommand parses its flags, talks to the Lab (or the
 * trainer) through a CliContext, and prints a table or, with --json, one JSON value.
 */
import { ConfigError } from './trainer/config.ts';
import { UsageError } from './cli/options.ts';
import { demo } from './cli/demo.ts';
import { trainCommand } from './cli/train.ts';
import { makeContext } from './cli/session.ts';
import { RunFailedError } from './cli/context.ts';

const HELP = `lora-lab — LoRA fine-tuning experiments on MNIST

Usage: lora-lab <command> [options]

Commands:
  demo        the classic experiment: base MLP one epoch, rank-1 LoRA on digit 7, before/after table
  train       train a base MLP
  finetune    LoRA fine-tune a stored base model

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

Environment: LORA_LAB_BACKEND forces a backend; LORA_LAB_MNIST_DIR points at other IDX files.`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(HELP);
    return cmd ? 0 : 1;
  }
  try {
    const ctx = makeContext(rest);
    switch (cmd) {
      case 'demo':
        await demo(rest, ctx);
        break;
      case 'train':
        await trainCommand('base', rest, ctx);
        break;
      case 'finetune':
        await trainCommand('lora', rest, ctx);
        break;
      default:
        throw new UsageError(`unknown command "${cmd}" (try lora-lab --help)`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof RunFailedError) {
      console.error(`lora-lab: ${err.message}`);
      return err instanceof RunFailedError ? 1 : 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
